/** `arbor mcp`: the command; the server itself is in mcp-server.ts, loaded only when it runs. */
import type { Command } from 'commander';
import { DEFAULT_STORE_PATH } from '../store/store.ts';
import { integer } from './options.ts';

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('serve arbor as a Model Context Protocol server over stdio (for Claude Code and other MCP clients)')
    .option('--db <path>', 'study database of the study tools', DEFAULT_STORE_PATH)
    .option('--scenarios <dir>', 'where list_scenarios looks', 'scenarios')
    .option('--root <dir>', 'a folder the tools may read files under (repeat for more; default: the current folder)', (dir: string, dirs: string[] = []) => [...dirs, dir])
    .option('--any-path', 'let the tools read files anywhere (still only regular files of at most 1 MiB)', false)
    .option('--max-studies <n>', 'studies running at once (each takes every core)', integer(1, 64), 1)
    .option('--max-runs <n>', 'run_episode and evaluate calls running at once', integer(1, 64), 2)
    .action(async (flags: { db: string; scenarios: string; root?: string[]; anyPath: boolean; maxStudies: number; maxRuns: number }) => {
      // Loaded when used: the MCP SDK takes half a second to import, which other commands should not pay.
      await (await import('./mcp-server.ts')).serveMcp(flags);
    });
}
