/** What Node 20's AbortSignal.any leaves on a source: one WeakRef per call, never removed. */
export function nodeDependants(signal: AbortSignal): number {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  return key === undefined ? 0 : (signal as unknown as Record<symbol, Set<unknown>>)[key]!.size;
}
