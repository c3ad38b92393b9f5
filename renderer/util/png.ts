/** PNG bytes from the engine → object URLs for <img>, revoked when replaced. */
export function pngUrl(bytes: Uint8Array): string {
  return URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'image/png' }));
}

export function revokeAll(urls: Iterable<string>): void {
  for (const u of urls) URL.revokeObjectURL(u);
}
