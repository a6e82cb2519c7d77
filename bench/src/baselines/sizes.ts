// Payload sizes as they appear in result names: 128 → "128b", 1024 → "1kib".
export function sizeLabel(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024}kib` : `${bytes}b`;
}
