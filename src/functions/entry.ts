// Entry of the Functions zip (package.json "main"): the host's Node worker loads it and the v4 model
// records the registrations. Kept apart from app.ts so importing `pixbatch/functions` registers nothing.
// The package is CommonJS; its named exports are reached through the default import under Node's ESM loader.
import functions from '@azure/functions';
import { registerFunctions } from './app.js';

registerFunctions(functions.app);
