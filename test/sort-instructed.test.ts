/**
 * The instructed-sorting task: the per-seed draw (instructions, what each wants), the sim scene
 * (cubes and zones where the draw says, the brief the policy is told), the scorer on made-up
 * traces (which cube ended where, a right or wrong refusal, a planner failure, the cost and
 * latency terms), and the scenario's checks with their messages.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { drawEpisode } from '../src/tasks/sort-instructed/draw.ts';
import { GOALS } from '../src/tasks/sort-instructed/instructions.ts';
import type { SortInstructedSpec } from '../src/tasks/sort-instructed/schema.ts';
import { scoreSortInstructed } from '../src/tasks/sort-instructed/score.ts';
import { summarizeSortInstructed } from '../src/tasks/sort-instructed/summary.ts';
import { POSE_FIELDS, TYPE, objectPoseTopic } from '../src/trace/topics.ts';
import { TraceRecorder } from '../src/trace/trace.ts';

const SCENARIO = 'scenarios/sort-instructed.yaml';
const sc = await loadScenario(SCENARIO);
const spec = sc.task as SortInstructedSpec;
const execFileAsync = promisify(execFile);

/** The first seed whose instruction has `goal`. */
function seedOf(goal: string): number {
  for (let seed = 0; seed < 1000; seed++) if (drawEpisode(spec, seed).instruction.goal === goal) return seed;
  throw new Error(`no seed draws ${goal}`);
}

/** A made-up episode of `seed`: each cube rests where the draw put it, then (if `moves` says) in a zone's centre. */
function traceOf(seed: number, moves: Record<string, string>, policy?: unknown) {
  const draw = drawEpisode(spec, seed);
  const rec = new TraceRecorder();
  for (const cube of draw.cubes) {
    const topic = rec.topic(objectPoseTopic(cube.name), TYPE.pose, POSE_FIELDS);
    const zone = draw.zones.find((z) => z.name === moves[cube.name]);
    for (let i = 0; i <= 100; i++) {
      const t = i * 0.02;
      const there = zone && i >= 50;
      topic.push(t, [there ? zone.x : cube.x, there ? zone.y : cube.y, cube.halfSize, 0, 0, 0, 1]);
    }
  }
  return rec.finish({ seed, ...(policy !== undefined ? { policy } : {}) });
}

describe('the draw', () => {
  it('is the same for a seed, draws every goal, and wants what each instruction says', () => {
    expect(drawEpisode(spec, 17)).toEqual(drawEpisode(spec, 17));
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      const { cubes, zones, instruction } = drawEpisode(spec, seed);
      seen.add(instruction.goal);
      expect(instruction.text).not.toMatch(/\{/);
      for (const c of cubes) {
        expect(c.x).toBeGreaterThanOrEqual(spec.randomization.cube_area.x[0]);
        expect(c.halfSize).toBeLessThanOrEqual(spec.randomization.cube_half_size[1]);
        for (const d of cubes) if (d !== c) expect(Math.hypot(c.x - d.x, c.y - d.y)).toBeGreaterThanOrEqual(spec.randomization.cube_spacing);
      }
      const { expected } = instruction;
      const zoneOf = (colour: string) => zones.find((z) => z.colour === colour)!.name;
      const said = /(\w+) zone/.exec(instruction.text)?.[1];
      if (instruction.goal === 'largest_to_zone') expect(expected.moves).toEqual({ [[...cubes].sort((a, b) => b.halfSize - a.halfSize)[0].name]: zoneOf(said!) });
      if (instruction.goal === 'smallest_to_zone') expect(expected.moves).toEqual({ [[...cubes].sort((a, b) => a.halfSize - b.halfSize)[0].name]: zoneOf(said!) });
      if (instruction.goal === 'colour_to_nearest') {
        const nearest = [...zones].sort((a, b) => Math.hypot(a.x, a.y) - Math.hypot(b.x, b.y))[0].name;
        expect(Object.values(expected.moves)).toEqual(Array(Object.keys(expected.moves).length).fill(nearest));
        expect(Object.keys(expected.moves).length).toBeGreaterThan(0);
      }
      if (instruction.goal === 'sort_by_colour') expect(expected.moves).toEqual({ cube_1: zoneOf('red'), cube_2: zoneOf('red'), cube_3: zoneOf('blue') });
      expect(expected.refuse).toBe(['ambiguous_colour', 'missing_cube', 'missing_zone'].includes(instruction.goal));
    }
    expect([...seen].sort()).toEqual([...GOALS].sort());
  });
});

describe('the sim scene', () => {
  let link: SimLink | undefined;
  afterAll(() => link?.close());

  it('puts the cubes and zones where the draw says and briefs the policy', async () => {
    link = await SimLink.create(sc);
    const seed = seedOf('largest_to_zone');
    const draw = drawEpisode(spec, seed);
    const obs = await link.reset(seed);
    const { model } = link.world;
    for (const cube of draw.cubes) {
      const geom = link.world.id('geom', cube.name);
      expect((model.geom_size as Float64Array)[3 * geom]).toBeCloseTo(cube.halfSize, 12);
      expect(obs.objects[cube.name].position[0]).toBeCloseTo(cube.x, 6);
      expect(obs.objects[cube.name].position[1]).toBeCloseTo(cube.y, 6);
    }
    for (const zone of draw.zones) {
      const geom = link.world.id('geom', spec.zones[zone.name].geom!);
      expect([(model.geom_pos as Float64Array)[3 * geom], (model.geom_pos as Float64Array)[3 * geom + 1]]).toEqual([zone.x, zone.y]);
    }
    expect(obs.brief).toEqual({
      instruction: draw.instruction.text,
      objects: Object.fromEntries(draw.cubes.map((c) => [c.name, { colour: c.colour, size: 2 * c.halfSize }])),
      places: Object.fromEntries(draw.zones.map((z) => [z.name, { colour: spec.zones[z.name].colour, center: [z.x, z.y], half_size: spec.zone_half_size }])),
      robot_base: [0, 0],
    });
    // The cubes rest: a second of physics moves none of them.
    let after = obs;
    for (let i = 0; i < 50; i++) after = await link.act({ position: obs.position, gripperWidth: 0.09 });
    for (const cube of draw.cubes) expect(Math.hypot(after.objects[cube.name].position[0] - cube.x, after.objects[cube.name].position[1] - cube.y)).toBeLessThan(0.002);
    expect(after.brief).toBeUndefined();
    // The viewer puts a recorded episode's cubes back from the trace meta.
    const other = drawEpisode(spec, seed + 1);
    await link.reset(seed + 1);
    const sizes = link.scene.restore!(link.trace().meta);
    expect(Object.values(sizes).map((s) => s[0]).sort()).toEqual(other.cubes.map((c) => c.halfSize).sort());
  });
});

describe('the scorer', () => {
  it('judges which cube ended where against the instruction', () => {
    const seed = seedOf('largest_to_zone');
    const want = drawEpisode(spec, seed).instruction.expected.moves;
    const [cube, zone] = Object.entries(want)[0];
    const right = scoreSortInstructed(traceOf(seed, want), spec);
    expect(right).toMatchObject({ success: true, outcome: 'success', terms: { success: 1, placement: 1, cost: 1, latency: 1 } });
    expect(right.score).toBeCloseTo(1, 12);
    const wrongZone = Object.keys(spec.zones).find((z) => z !== zone)!;
    const misplaced = scoreSortInstructed(traceOf(seed, { [cube]: wrongZone }), spec);
    expect(misplaced).toMatchObject({ success: false, outcome: 'misplaced' });
    expect(misplaced.terms.placement).toBeCloseTo(2 / 3, 12);
    const extra = Object.keys(spec.cubes).find((c) => c !== cube)!;
    expect(scoreSortInstructed(traceOf(seed, { ...want, [extra]: zone }), spec).outcome).toBe('misplaced');
    expect(summarizeSortInstructed(traceOf(seed, { [cube]: wrongZone }), spec).join('\n')).toContain(`${cube} (`);
  });

  it('takes a refusal as right only when the instruction cannot be carried out and nothing moved', () => {
    const refuse = seedOf('ambiguous_colour');
    const refusal = { decision: { refused: 'Two cubes are red; which one?' } };
    expect(scoreSortInstructed(traceOf(refuse, {}, refusal), spec)).toMatchObject({ success: true, outcome: 'refused' });
    expect(scoreSortInstructed(traceOf(refuse, {}), spec)).toMatchObject({ success: false, outcome: 'not_refused' });
    expect(scoreSortInstructed(traceOf(refuse, { cube_1: 'zone_a' }, refusal), spec)).toMatchObject({ success: false, outcome: 'not_refused' });
    const feasible = seedOf('colour_to_zone');
    expect(scoreSortInstructed(traceOf(feasible, {}, refusal), spec)).toMatchObject({ success: false, outcome: 'wrong_refusal' });
  });

  it('scores a planner failure with its reason, and weighs what planning cost', () => {
    const seed = seedOf('colour_to_zone');
    const failed = scoreSortInstructed(traceOf(seed, {}, { decision: { failed: 'unsafe plan: outside the workspace' } }), spec);
    expect(failed).toMatchObject({ success: false, outcome: 'planner_failure', metrics: { planner_failure: 'unsafe plan: outside the workspace' } });
    const want = drawEpisode(spec, seed).instruction.expected.moves;
    const paid = scoreSortInstructed(traceOf(seed, want, { metrics: { planner_usd: 0.005, planner_s: 2.5 } }), spec);
    expect(paid.terms).toMatchObject({ success: 1, cost: 0.5, latency: 0.75 });
    const w = spec.score.weights;
    expect(paid.score).toBeCloseTo((w.success + w.placement + 0.5 * w.cost + 0.75 * w.latency) / (w.success + w.placement + w.cost + w.latency), 12);
    const capped = { ...spec, success: { ...spec.success, max_planner_s: 2 } };
    expect(scoreSortInstructed(traceOf(seed, want, { metrics: { planner_usd: 0.005, planner_s: 2.5 } }), capped)).toMatchObject({ success: false, outcome: 'too_slow' });
  });

  it('refuses a trace without a seed, saying why', () => {
    const trace = traceOf(1, {});
    delete (trace.meta as Record<string, unknown>).seed;
    expect(() => scoreSortInstructed(trace, spec)).toThrow(/has no seed in its meta .*judged against the instruction its seed drew/);
  });
});

describe('the scenario', () => {
  const variant = async (edit: (text: string) => string) => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-sort-'));
    const root = resolve('.');
    const file = join(dir, 'sort.yaml');
    writeFileSync(file, edit(readFileSync(SCENARIO, 'utf8').replace('../robots/', `${root}/robots/`).replace('../sim/', `${root}/sim/`)));
    return loadScenario(file).then(
      () => undefined,
      (err: unknown) => err as ValidationError,
    );
  };

  it("passes arbor check, the scorer's preflight included", async () => {
    const { stdout } = await execFileAsync(process.execPath, ['bin/arbor.js', 'check', SCENARIO, '--workers', '2']);
    expect(stdout).toMatch(/: ok \(sort-instructed: task sort_instructed, robot arm6/);
    expect(stdout).toMatch(/preflight: ok/);
  }, 240_000);

  it('names the field and the fix of every mistake', async () => {
    const placeholder = await variant((t) => t.replace('"Put the largest cube in the {zone} zone."', '"Put the largest {colour} cube in the {zone} zone."'));
    expect(placeholder?.problems[0]).toMatchObject({ path: 'task.instructions.0', message: expect.stringMatching(/uses \{colour\}, which goal largest_to_zone does not fill/) });
    const colours = await variant((t) => t.replace('zone_c: { colour: green', 'zone_c: { colour: blue'));
    expect(colours?.problems.map((p) => p.message).join('\n')).toMatch(/zones must have distinct colours/);
    const absent = await variant((t) => t.replace('absent_colours: [purple', 'absent_colours: [red'));
    expect(absent?.problems[0].message).toMatch(/'red' is the colour of a cube or a zone/);
    const noPrompt = await variant((t) => t.replace(/\n {2}prompt:\n[\s\S]*?\nresearcher:/, '\nresearcher:'));
    expect(noPrompt?.problems[0]).toMatchObject({ path: 'policy.prompt', message: expect.stringMatching(/kind prompt needs a prompt: block/) });
    const badFacts = await variant((t) => t.replace('scene: { format: prose, facts: [colour], units: cm }', 'scene: { format: prose, facts: [colour, smell], units: cm }'));
    expect(badFacts?.problems[0].path).toBe('policy.prompt.config.scene.facts.1');
  });

  it('refuses a prompt policy on a controller a planner cannot aim', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-sort-'));
    const file = join(dir, 'pp.yaml');
    const prompt = readFileSync(SCENARIO, 'utf8').match(/\n {2}prompt:\n[\s\S]*?\n(?=researcher:)/)![0];
    const text = readFileSync('scenarios/pick-place.yaml', 'utf8')
      .replace('../robots/', `${resolve('.')}/robots/`)
      .replace('../sim/', `${resolve('.')}/sim/`)
      .replace('  kind: params\n  controller: pick_place', '  kind: prompt\n  controller: pick_place')
      .replace('\nbudget:', `${prompt}\nbudget:`);
    writeFileSync(file, text);
    const err = (await loadScenario(file).catch((e: unknown) => e)) as ValidationError;
    expect(err.problems[0]).toMatchObject({ path: 'policy.controller', message: expect.stringMatching(/has no skill a planner can aim/) });
  });
});
