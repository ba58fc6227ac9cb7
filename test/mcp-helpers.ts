/** A real `arbor mcp` process driven by the MCP SDK's own client over stdio, and what tests measure of it. */
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

/** A connected client and its server's pid. */
export interface McpSession {
  /** The SDK client. */
  client: Client;
  /** The `arbor mcp` process. */
  pid: number;
  /** Calls a tool: whether it failed, its text, and its JSON when it did not. */
  call: (name: string, args: Record<string, unknown>, options?: { signal?: AbortSignal; timeout?: number }) => Promise<{ error: boolean; text: string; value: any }>;
}

/** Starts `arbor mcp ARGS` and connects to it. */
export async function startMcp(args: string[]): Promise<McpSession> {
  const client = new Client({ name: 'arbor-test', version: '1.0.0' });
  const transport = new StdioClientTransport({ command: process.execPath, args: ['bin/arbor.js', 'mcp', ...args], stderr: 'ignore' });
  await client.connect(transport);
  const call: McpSession['call'] = async (name, args, options) => {
    const result = await client.callTool({ name, arguments: args }, undefined, options);
    const text = (result.content as { type: string; text: string }[])[0].text;
    return { error: result.isError === true, text, value: result.isError ? undefined : JSON.parse(text) };
  };
  return { client, pid: transport.pid!, call };
}

/** CPU seconds (user + system, every thread) a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').at(-1)!.trim().split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Resident memory of a process in MB, from /proc. */
export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Milliseconds `body` took. */
export async function timed(body: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await body();
  return performance.now() - t;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
