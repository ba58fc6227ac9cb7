/**
 * The operator's terminal for `arbor run --operator`: before each episode it shows what will run
 * and reads run / skip / stop; it asks for the scene reset on robots that cannot reset themselves;
 * while an episode runs, any key is an e-stop. Reads lines from stdin and writes to stderr, so
 * stdout stays the study's results.
 *
 * An answer counts only when it is typed after its question appears: whatever waits in the input
 * when a prompt is shown (a stray `r⏎` during the sim gate, answers piped in advance) is dropped,
 * or a few keystrokes would approve episodes on the robot nobody has seen. Only `scripted` answers
 * (`--scripted-answers`, which the study logs) are read as given, in order.
 */
import type { Readable, Writable } from 'node:stream';
import type { EpisodePlan, Operator } from '../evaluation/link-evaluator.ts';

export class TerminalOperator implements Operator {
  private buffer = '';
  private readonly lines: string[] = [];
  private lineWaiter: ((line: string | undefined) => void) | undefined;
  private estop: ((reason: string) => void) | undefined;
  private ended = false;

  constructor(
    private readonly input: Readable = process.stdin,
    private readonly output: Writable = process.stderr,
    /** True when the answers on `input` are scripted in advance: they are then kept, not dropped at each prompt. */
    private readonly scripted = false,
  ) {
    input.setEncoding?.('utf8');
    input.on('data', (chunk: string) => this.onData(chunk));
    input.on('end', () => {
      this.ended = true;
      this.lineWaiter?.(undefined);
    });
  }

  async confirm(plan: EpisodePlan): Promise<'run' | 'skip' | 'stop'> {
    const speed = plan.reducedSpeed !== undefined ? `reduced speed (tool point ≤ ${plan.reducedSpeed * 1000} mm/s)` : 'full speed';
    this.say(
      `\nnext episode ${plan.index}/${plan.total} on ${plan.backend}: candidate ${plan.candidate}, seed ${plan.job.seed}, ${speed}; sim gate ${plan.simGate ?? 'not needed'}.\n` +
        `policy: ${JSON.stringify(plan.job.policy)}\n`,
    );
    for (;;) {
      await this.prompt('[r]un, [s]kip or [q] stop the study? ');
      const line = await this.readLine();
      if (line === undefined) return 'stop';
      const answer = line.trim().toLowerCase();
      if (answer === 'r' || answer === 'run') return 'run';
      if (answer === 's' || answer === 'skip') return 'skip';
      if (answer === 'q' || answer === 'stop' || answer === 'quit') return 'stop';
      this.say(`'${line.trim()}' is not an answer; type r, s or q.\n`);
    }
  }

  async sceneReset(plan: EpisodePlan): Promise<void> {
    await this.prompt(`reset the scene for seed ${plan.job.seed} (objects back in place, the workspace clear), then press Enter. `);
    await this.readLine();
  }

  armEstop(trigger: (reason: string) => void): () => void {
    this.say('running: press any key (then Enter, if the terminal is line-buffered) for an e-stop.\n');
    const tty = this.input as Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
    if (tty.isTTY) tty.setRawMode?.(true);
    this.estop = trigger;
    return () => {
      this.estop = undefined;
      if (tty.isTTY) tty.setRawMode?.(false);
    };
  }

  close(): void {
    this.input.pause();
  }

  private say(text: string): void {
    this.output.write(text);
  }

  /**
   * Asks a question: input typed before it (unless scripted) answered nothing and is dropped. That
   * includes keys still in the OS's buffer: while the sim gate stepped, this thread read nothing.
   * Two turns of `setImmediate` pass through at least one poll of the event loop, which reads them
   * (one turn is not enough when the question is asked from an I/O callback, in the poll phase).
   */
  private async prompt(question: string): Promise<void> {
    this.say(question);
    if (this.scripted) return;
    for (let turn = 0; turn < 2; turn++) await new Promise((next) => setImmediate(next));
    this.lines.length = 0;
    this.buffer = '';
  }

  private onData(chunk: string): void {
    if (this.estop) {
      // Whatever was typed during the episode is the stop key, not an answer to the next question.
      const stop = this.estop;
      this.estop = undefined;
      this.say('\nE-STOP: the robot holds.\n');
      stop('the operator pressed the stop key');
      return;
    }
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.search(/\r?\n|\r/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + (this.buffer[newline] === '\r' && this.buffer[newline + 1] === '\n' ? 2 : 1));
      if (this.lineWaiter) {
        const wake = this.lineWaiter;
        this.lineWaiter = undefined;
        wake(line);
      } else this.lines.push(line);
    }
  }

  private readLine(): Promise<string | undefined> {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.lineWaiter = resolve));
  }
}
