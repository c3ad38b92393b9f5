import { InspectorError } from '../../shared/errors';
import { readRegularFile } from '../engine/files/safe-files';
import { activeZooCatalog, findZooEntry, parseZooCatalog } from '../engine/zoo/catalog';
import { downloadZooModel, listZoo } from '../engine/zoo/download';
import type { Flags } from './args';
import { withJobContext } from './progress';

/** `zoo list` and `zoo get NAME`: the model zoo's networks, fetched with progress on stderr; Ctrl-C keeps the part. */
export async function runZoo(flags: Flags, rest: string[], out: (s: string) => void): Promise<void> {
  const options = { ...(typeof flags.mirror === 'string' ? { mirror: flags.mirror } : {}) };
  const catalog =
    typeof flags.catalog === 'string' ? parseZooCatalog(readRegularFile(flags.catalog, { maxBytes: 4 * 2 ** 20 }).toString('utf8')) : activeZooCatalog();
  const [action, name] = rest;
  if (action === 'list') {
    const listing = listZoo(catalog, options);
    out(
      `${JSON.stringify({ folder: listing.folder, mirror: listing.mirror, models: listing.models.map((m) => ({ name: m.name, title: m.title, mb: Math.round(m.bytes / 1e5) / 10, state: m.state, have: m.have, file: m.file, about: m.about })) })}\n`,
    );
    return;
  }
  if (action !== 'get' || !name) throw new InspectorError('BAD_ARGUMENT', 'Usage: cnn-inspect zoo list | cnn-inspect zoo get NAME [--mirror URL] [--file F]');
  const entry = findZooEntry(name, catalog);
  const result = await withJobContext(flags, (ctx) =>
    downloadZooModel(entry, ctx, { ...options, ...(typeof flags.file === 'string' ? { from: flags.file } : {}) }),
  );
  out(`${JSON.stringify(result)}\n`);
}
