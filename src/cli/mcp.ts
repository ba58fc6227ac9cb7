/** `arbor mcp`: the command; the server itself is in mcp-server.ts, loaded only when it runs. */
import type { Command } from 'commander';
import { DEFAULT_STORE_PATH } from '../store/store.ts';

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('serve arbor as a Model Context Protocol server over stdio (for Claude Code and other MCP clients)')
    .option('--db <path>', 'study database of the study tools', DEFAULT_STORE_PATH)
    .option('--scenarios <dir>', 'where list_scenarios looks', 'scenarios')
    .action(async (flags: { db: string; scenarios: string }) => {
      // Loaded when used: the MCP SDK takes half a second to import, which other commands should not pay.
      await (await import('./mcp-server.ts')).serveMcp(flags);
    });
}

