import type { FilterDefinition } from '../settings/types.js';

/**
 * Loads a filter.d file with the settings loader (fail2ban semantics:
 * [INCLUDES], .local overlays, [Init] parameters). Imported on first use,
 * and the module itself rather than settings/index.js (which loads winston
 * and dotenv): test-filter given a bare regex needs neither.
 */
export async function loadFilterDefinition(path: string, params: Record<string, string> = {}): Promise<FilterDefinition> {
  const { loadFilterFile } = await import('../settings/filter-file.js');
  return loadFilterFile(path, params);
}
