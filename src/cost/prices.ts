// Default price table. These are public pay-as-you-go list prices for Linux VMs and hot-tier LRS
// block blobs in East US, rounded, as read on the date in `asOf`. Spot prices move daily and
// differ by region; the spot figures here assume a conservative 80% discount. Users put their
// own table under `prices` in pixbatch.config.json (same shape).

export interface VmPriceEntry {
  dedicated: number;
  spot: number;
  cores: number;
}

export interface PriceTableData {
  currency: string;
  asOf: string;
  region: string;
  vm: Record<string, VmPriceEntry>;
  storage: { hotPerGbMonth: number; writePer10k: number; readPer10k: number };
}

export const DEFAULT_PRICES: PriceTableData = {
  currency: 'USD',
  asOf: '2025-06-01',
  region: 'eastus',
  vm: {
    Standard_D2s_v3: { dedicated: 0.096, spot: 0.0192, cores: 2 },
    Standard_D4s_v3: { dedicated: 0.192, spot: 0.0384, cores: 4 },
    Standard_D8s_v3: { dedicated: 0.384, spot: 0.0768, cores: 8 },
    Standard_F2s_v2: { dedicated: 0.0846, spot: 0.0169, cores: 2 },
    Standard_F4s_v2: { dedicated: 0.169, spot: 0.0338, cores: 4 },
    Standard_F8s_v2: { dedicated: 0.338, spot: 0.0676, cores: 8 },
    Standard_D2as_v5: { dedicated: 0.086, spot: 0.0172, cores: 2 },
    Standard_D4as_v5: { dedicated: 0.172, spot: 0.0344, cores: 4 },
    Standard_D8as_v5: { dedicated: 0.344, spot: 0.0688, cores: 8 },
  },
  storage: { hotPerGbMonth: 0.0184, writePer10k: 0.065, readPer10k: 0.005 },
};

/** The label printed under every estimate, so nobody mistakes it for a quote. */
export function priceLabel(prices: Pick<PriceTableData, 'asOf' | 'region' | 'currency'>): string {
  return `list prices as of ${prices.asOf} (${prices.region}, ${prices.currency}), edit in config`;
}

/** Looks a VM size up case-insensitively (the portal writes `Standard_D2s_v3`, ARM returns `STANDARD_D2S_V3`). */
export function findVmPrice(prices: Pick<PriceTableData, 'vm'>, vmSize: string): VmPriceEntry | undefined {
  const exact = prices.vm[vmSize];
  if (exact) return exact;
  const lower = vmSize.toLowerCase();
  for (const [name, entry] of Object.entries(prices.vm)) if (name.toLowerCase() === lower) return entry;
  return undefined;
}

/** Cores from the size name when the table does not know it: `Standard_F16s_v2` → 16. */
export function coresFromVmSize(vmSize: string): number | undefined {
  const m = /^(?:standard|basic)_[a-z]+?(\d+)/i.exec(vmSize);
  return m ? Number(m[1]) : undefined;
}
