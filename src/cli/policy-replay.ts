export async function replayCommand(): Promise<number> {
  return 2;
}
