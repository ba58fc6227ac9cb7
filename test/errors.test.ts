import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario, scenarioJsonSchema } from '../src/scenario/load.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { World } from '../src/sim/world.ts';
import { MjcfError } from '../src/sim/model-files.ts';
import { resolvePolicy } from '../src/policy/file.ts';
import { scenario } from './helpers.ts';

const original = readFileSync('scenarios/pick-place.yaml', 'utf8');

/** Writes a scenario variant into a temp copy of the repo layout and loads it. */
async function loadVariant(edit: (text: string) => string): Promise<ValidationError> {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-scn-'));
  mkdirSync(join(dir, 'scenarios'));
  const file = join(dir, 'scenarios', 'bad.yaml');
  writeFileSync(file, edit(original).replaceAll('../robots/', `${process.cwd()}/robots/`).replaceAll('../sim/', `${process.cwd()}/sim/`));
  try {
    await loadScenario(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('the variant loaded without error');
}

describe('scenario errors name the field, the line and the fix', () => {
  it('reports a bad value with its path, line and range hint', async () => {
    const err = await loadVariant((t) => t.replace('control_rate: 50', 'control_rate: -5'));
    const p = err.problems[0];
    expect(p.path).toBe('episode.control_rate');
    expect(p.line).toBe(original.split('\n').findIndex((l) => l.includes('control_rate')) + 1);
    expect(err.message).toMatch(/bad\.yaml:\d+: episode\.control_rate: .*\(change the value to fit the range\)/);
  });

  it('reports every problem at once, with typos and missing fields', async () => {
    const err = await loadVariant((t) => t.replace('duration: 6.0', 'durration: 6.0').replace('object_mass: [0.1, 0.8]', 'object_mass: [0.8, 0.1]'));
    const paths = err.problems.map((p) => p.path).sort();
    expect(paths).toEqual(['episode', 'episode.duration', 'task.randomization.object_mass'].sort());
    expect(err.problems.find((p) => p.path === 'episode.duration')?.hint).toBe('add this field');
    expect(err.problems.find((p) => p.path === 'episode')?.hint).toBe('remove it or check its spelling');
  });

  it('reports a parameter default outside its bounds', async () => {
    const err = await loadVariant((t) => t.replace('ik_gain:         { min: 0.05,  max: 1.0,  default: 0.25', 'ik_gain:         { min: 0.05,  max: 1.0,  default: 3'));
    expect(err.problems[0].path).toBe('policy.params.ik_gain.default');
    expect(err.problems[0].message).toMatch(/within \[min, max\]/);
  });

  it('reports broken YAML with its line', async () => {
    const err = await loadVariant((t) => t.replace('kind: pick_place', 'kind: [pick_place'));
    expect(err.problems[0].message).toMatch(/not valid YAML/);
    expect(err.problems[0].line).toBeGreaterThan(0);
  });

  it('exports a JSON Schema that names the scenario fields', async () => {
    type Section = { properties?: Record<string, { const?: string }>; anyOf?: Section[] };
    const schema = (await scenarioJsonSchema()) as { properties: Record<string, Section>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['robot', 'world', 'task', 'episode', 'policy', 'cameras', 'vision', 'budget']));
    // One task section per registered kind.
    const task = schema.properties.task;
    const fieldsOf = (kind: string) => Object.keys((task.anyOf ?? [task]).find((s) => s.properties?.kind?.const === kind)?.properties ?? {});
    expect(fieldsOf('pick_place')).toEqual(expect.arrayContaining(['kind', 'object', 'zone', 'randomization']));
    expect(fieldsOf('machining')).toEqual(expect.arrayContaining(['kind', 'workpiece', 'path', 'force', 'randomization']));
    expect(fieldsOf('sort_instructed')).toEqual(expect.arrayContaining(['kind', 'cubes', 'zones', 'instructions']));
    expect(schema.required).toEqual(expect.arrayContaining(['robot', 'world', 'task']));
  });
});

const sc = await scenario();

describe('policy files are checked against the parameter space', () => {
  it('names unknown parameters and out-of-range values', () => {
    try {
      resolvePolicy({ kind: 'params', params: { lift_heigth: 0.2, ik_gain: 7 } }, sc, 'mine.json');
      throw new Error('accepted');
    } catch (error) {
      const text = (error as Error).message;
      expect(text).toMatch(/mine\.json: params\.lift_heigth: is not a parameter of scenario 'pick-place' \(known: .*lift_height/);
      expect(text).toMatch(/params\.ik_gain: = 7 is outside its range \[0\.05, 1\]/);
    }
  });
  it('fills missing parameters from the defaults', () => {
    const p = resolvePolicy({ kind: 'params', params: { ik_gain: 0.5 } }, sc);
    expect(p).toMatchObject({ kind: 'params', params: { ik_gain: 0.5, lift_height: sc.policy.params.lift_height.default } });
  });
});

describe('MJCF errors say what and where', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-mjcf-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const expectMjcfError = async (path: string, pattern: RegExp, file = path, line?: number) => {
    const error = await World.load(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MjcfError);
    const e = error as MjcfError;
    expect(e.message).toMatch(pattern);
    expect(e.file).toBe(file);
    if (line !== undefined) expect(e.line).toBe(line);
  };

  it('a missing file', async () => {
    await expectMjcfError(join(dir, 'nope.xml'), /does not exist/);
  });
  it('malformed XML, with its line', async () => {
    const p = write('broken.xml', '<mujoco>\n<worldbody>\n<geom size="1"\n</worldbody></mujoco>');
    // The parser notices the unclosed <geom> on the line after it.
    await expectMjcfError(p, /not well-formed XML/, p, 4);
  });
  it('a missing include, naming the including file', async () => {
    const p = write('inc.xml', '<mujoco>\n  <include file="missing.xml"/>\n</mujoco>');
    await expectMjcfError(p, /includes .*missing\.xml, which does not exist/, p, 2);
  });
  it("MuJoCo's own complaint, located in the included file", async () => {
    write('robot-bad.xml', '<mujoco>\n<worldbody>\n<body>\n<joint type="hinge"/>\n<geom type="boxx" size="1"/>\n</body>\n</worldbody>\n</mujoco>');
    const p = write('scene.xml', '<mujoco>\n<include file="robot-bad.xml"/>\n</mujoco>');
    await expectMjcfError(p, /MuJoCo rejects the model: invalid keyword: 'boxx'/, join(dir, 'robot-bad.xml'), 5);
  });
  it('an unknown name referenced by an actuator', async () => {
    const p = write('act.xml', '<mujoco>\n<actuator>\n<position joint="nope"/>\n</actuator>\n</mujoco>');
    await expectMjcfError(p, /unknown transmission target 'nope'/);
  });
});
