/** Exports: PNG for pictures, CSV for tables, .npy for arrays — saved through the browser's download. */
import { encodeNpy } from '../../shared/npy';

export function downloadBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function downloadDataUrl(dataUrl: string, filename: string): void {
  const a = document.createElement('a');
  a.href = dataUrl;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function downloadCsv(rows: Array<Array<string | number>>, filename: string): void {
  const escape = (v: string | number) => (typeof v === 'number' ? String(v) : /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  downloadBlob(new Blob([rows.map((r) => r.map(escape).join(',')).join('\n') + '\n'], { type: 'text/csv' }), filename);
}

export function downloadNpy(shape: number[], data: Float32Array, filename: string): void {
  const bytes = encodeNpy({ shape, data });
  downloadBlob(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }), filename);
}

export function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_');
}
