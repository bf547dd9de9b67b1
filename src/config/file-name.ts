/** The config file looked for in the working directory. Its own module, so checking for it loads no schema code. */
export const CONFIG_FILE_NAME = 'pixbatch.config.json';
