/** Exports: PNG for pictures, CSV for tables, .npy for arrays — saved through the browser's download. */
import { csvText } from '../../shared/csv';
import type { Table } from '../../shared/result-tables';
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

/** A result's table (shared/result-tables.ts): the same columns and CSV form as the CLI's file of it. */
export function downloadTable(table: Table, filename: string): void {
  downloadBlob(new Blob([csvText(table.header, table.rows)], { type: 'text/csv' }), filename);
}

/** `rows[0]` is the header. The same CSV form as the CLI's files (shared/csv.ts). */
export function downloadCsv(rows: Array<Array<string | number>>, filename: string): void {
  downloadBlob(new Blob([csvText(rows[0].map(String), rows.slice(1))], { type: 'text/csv' }), filename);
}

export function downloadNpy(shape: number[], data: Float32Array, filename: string): void {
  const bytes = encodeNpy({ shape, data });
  downloadBlob(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }), filename);
}

export function safeName(s: string): string {
  return s.replace(/[^\w.-]+/g, '_');
}
