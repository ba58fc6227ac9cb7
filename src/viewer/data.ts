/**
 * What the viewer's server reads: studies from the store (opened read-only), scenes and replay
 * blobs made by a private world per scene. Episodes never change once stored, so their blobs are
 * cached (a few, least recently used first out). Study records reach the page through ./views.ts,
 * the one place where the store's snake_case contents (policy bodies, metrics) become the page's
 * camelCase.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { describeStop, studySummaryOf } from '../study/config.ts';
import { loadScenario, type LoadedScenario } from '../scenario/load.ts';
import { writeEpisodesMcap } from '../store/mcap-export.ts';
import { Store } from '../store/store.ts';
import { runVisionChecks } from '../scoring/vision-checks.ts';
import { pngOf, viewable } from '../scoring/vision-draw.ts';
import { imageFrame } from '../scoring/vision.ts';
import { MemorySink } from '../trace/mcap.ts';
import type { ImageEncoding, Trace } from '../trace/trace.ts';
import { gauntletMatrix, gauntletSource, isGauntlet, type GauntletMatrix } from '../transfer/gauntlet-matrix.ts';
import { costPoints, type CostPoint } from './pareto.ts';
import { Poser } from './poser.ts';
import { encodeContacts, encodeEpisode } from './protocol.ts';
import type { SceneSpec } from './scene-spec.ts';
import { candidateRow, episodeCost, episodeSummary, studyHeader, studyListItem, validationFigures, type CandidateRow, type EpisodeSummary, type StudyHeader, type StudyListItem, type ValidationFigure } from './views.ts';

/** Episode blobs kept in memory. */
const BLOB_CACHE = 12;

/** A study with everything its dashboard shows. */
export interface StudyView {
  /** The study. */
  study: StudyHeader;
  /** Its candidates, in id order. */
  candidates: CandidateRow[];
  /** Its episodes, in recording order. */
  episodes: EpisodeSummary[];
  /** The parameter space with defaults, for the candidate table. */
  params: { name: string; default: number }[];
  /** Why the search ended, in a sentence (null while it runs). */
  stopped: string | null;
  /** Success against dollars per episode of each candidate (empty when the study spends nothing on its policies). */
  costs: CostPoint[];
  /** The best on the validation seeds, nominally and at a robust study's tier, and the baseline (empty until validated). */
  validation: ValidationFigure[];
  /** Gauntlet studies that ran this study's best (`arbor gauntlet --study ID`), newest first. */
  gauntlets: string[];
}

/** An image topic of a stored episode, as the page lists it. */
export interface EpisodeImageTopic {
  /** Topic name; `/api/episodes/ID/image.png?topic=T&frame=N` serves a frame. */
  topic: string;
  /** Pixel encoding (the PNG shows depth and labels in colour). */
  encoding: ImageEncoding;
  /** Width (px). */
  width: number;
  /** Height (px). */
  height: number;
  /** The camera (or surface) frame it is taken in. */
  frameId: string;
  /** Stamps (s) of its frames. */
  stamps: number[];
}

/** What a vision check found in a stored episode; `/api/episodes/ID/vision.png?check=C` draws what it saw. */
export interface EpisodeCheck {
  /** The check's name in the scenario. */
  name: string;
  /** Its kind (`detect`, `inside_zone`, `mask_iou`). */
  kind: string;
  /** Whether it counts toward vision success. */
  required: boolean;
  /** Whether it passed. */
  pass: boolean;
  /** Its measurements. */
  metrics: Record<string, number>;
}

/** A stored episode's pictures: its image topics (cameras, task-derived images) and its vision checks. */
export interface EpisodeImages {
  /** Each image topic. */
  images: EpisodeImageTopic[];
  /** Each vision check of the study's scenario, run on this episode. */
  checks: EpisodeCheck[];
  /** Why the checks could not run on this episode (e.g. the scenario changed since), when they could not. */
  checksProblem?: string;
}

/** Traces kept decoded for the image endpoints (a page asks for several frames of one episode). */
const TRACE_CACHE = 4;

/** A request for a value that does not exist; the server answers 404 with its message. */
export class NotFound extends Error {}

export class ViewerData {
  private store: Store | undefined;
  private readonly posers = new Map<string, Promise<Poser>>();
  private readonly blobs = new Map<number, Uint8Array>();
  private readonly contactBlobs = new Map<number, Uint8Array>();
  private readonly scenarios = new Map<string, Promise<LoadedScenario>>();
  private readonly traces = new Map<number, Trace>();

  constructor(
    /** Path of the study database (may not exist yet). */
    readonly dbPath: string | undefined,
    /** An MJCF model to show on its own (`arbor view --model`). */
    readonly modelPath?: string,
    /** Scenario of live studies the store does not know (yet): `arbor run --view` without a db. */
    readonly liveScenario?: string,
  ) {}

  /** The store, opened read-only on first use; undefined while there is no database. */
  getStore(): Store | undefined {
    if (!this.store && this.dbPath && existsSync(this.dbPath)) this.store = Store.open(this.dbPath, { readonly: true });
    return this.store;
  }

  /** All studies, newest first. */
  studies(): StudyListItem[] {
    const store = this.getStore();
    if (!store) return [];
    return store
      .studies()
      .map((s) => studyListItem(s, store.candidates(s.id).length))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** One study with its candidates and episodes. */
  async study(id: string): Promise<StudyView> {
    const store = this.getStore();
    const study = store?.study(id);
    if (!store || !study) throw new NotFound(`There is no study '${id}' in ${this.dbPath ?? 'the store'}.`);
    const records = store.episodes({ studyId: id });
    const candidates = store.candidates(id).map(candidateRow);
    let params: StudyView['params'] = [];
    try {
      params = Object.entries((await this.scenario(study.scenarioPath)).policy.params).map(([name, p]) => ({ name, default: p.default }));
    } catch {
      // A moved scenario file still lets the dashboard list the study.
    }
    const stopped = study.status === 'running' ? null : study.status === 'done' ? describeStop(study.stopReason) : study.status === 'failed' ? 'the run failed (see the study log)' : describeStop(null);
    const gauntlets = store.studies().filter((s) => gauntletSource(s)?.study === id).sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((s) => s.id);
    return {
      study: studyHeader(study), candidates, episodes: records.map(episodeSummary), params, stopped, costs: costPoints(candidates, records.map(episodeCost)),
      validation: validationFigures(studySummaryOf(study)), gauntlets,
    };
  }

  /** A gauntlet study as its tier × axis heatmap. */
  gauntlet(id: string): GauntletMatrix {
    const store = this.getStore();
    const study = store?.study(id);
    if (!store || !study) throw new NotFound(`There is no study '${id}' in ${this.dbPath ?? 'the store'}.`);
    if (!isGauntlet(study)) throw new NotFound(`Study ${id} is not a gauntlet (its researcher is ${study.researcher}), so it has no heatmap; arbor gauntlet SCENARIO --study ${id} runs one on its best candidate.`);
    return gauntletMatrix(study, store.candidates(id), store.episodes({ studyId: id }));
  }

  /** A cheap fingerprint of a study's progress, to notice changes made by another process. */
  fingerprint(id: string): string {
    const store = this.getStore();
    const study = store?.study(id);
    if (!store || !study) return '';
    const candidates = store.candidates(id);
    const decided = candidates.filter((c) => c.status !== 'pending').length;
    return `${study.updatedAt}|${study.status}|${candidates.length}|${decided}|${store.episodes({ studyId: id }).length}`;
  }

  /** The poser (private world) of a study's scenario. */
  async studyPoser(studyId: string): Promise<Poser> {
    const scenario = await this.studyScenario(studyId);
    const key = sceneKey(scenario.file);
    return this.poser(key, () => Poser.ofScenario(scenario, key));
  }

  /** A fresh poser of a study's scenario (for a live stream: each has its own object setup). */
  async newStudyPoser(studyId: string): Promise<Poser> {
    const scenario = await this.studyScenario(studyId);
    return Poser.ofScenario(scenario, sceneKey(scenario.file));
  }

  /** The scenario of a study: from the store, else the live scenario given at start. */
  studyScenario(studyId: string): Promise<LoadedScenario> {
    const study = this.getStore()?.study(studyId);
    if (study) return this.scenario(study.scenarioPath);
    if (this.liveScenario) return this.scenario(this.liveScenario);
    return Promise.reject(new NotFound(`There is no study '${studyId}' in ${this.dbPath ?? 'the store'}.`));
  }

  /** The poser of the `--model` file. */
  modelPoser(): Promise<Poser> {
    const path = this.modelPath;
    if (!path) return Promise.reject(new NotFound('No model was given; start the viewer with --model FILE.xml.'));
    return this.poser('model', () => Poser.ofModel(path, 'model'));
  }

  /** The scene of a study, or of the `--model` file. */
  async scene(query: { study?: string; model?: boolean }): Promise<SceneSpec> {
    if (query.model) return (await this.modelPoser()).scene;
    if (query.study) return (await this.studyPoser(query.study)).scene;
    throw new NotFound('Ask for a scene with ?study=ID or ?model=1.');
  }

  /** The replay blob of a stored episode (cached). */
  async episodeBlob(id: number): Promise<Uint8Array> {
    const cached = this.blobs.get(id);
    if (cached) {
      this.blobs.delete(id);
      this.blobs.set(id, cached);
      return cached;
    }
    const store = this.getStore();
    const episode = store?.episode(id);
    if (!store || !episode) throw new NotFound(`There is no episode ${id} in ${this.dbPath ?? 'the store'}.`);
    if (episode.tracePath === null) throw new NotFound(`Episode ${id} (${episode.outcome}) was recorded without a trace, so it cannot be replayed.`);
    const poser = await this.studyPoser(episode.studyId);
    const trace = store.loadEpisodeTrace(episode);
    const { candidateId, split, seed, success, score, outcome } = episode;
    const blob = encodeEpisode(poser.episode(trace, { id, study: episode.studyId, candidateId, split, seed, success, score, outcome }));
    this.blobs.set(id, blob);
    if (this.blobs.size > BLOB_CACHE) this.blobs.delete(this.blobs.keys().next().value!);
    return blob;
  }

  /** The contacts of a stored episode's frames (cached; slower to make than its poses). */
  async episodeContacts(id: number): Promise<Uint8Array> {
    const cached = this.contactBlobs.get(id);
    if (cached) return cached;
    const store = this.getStore();
    const episode = store?.episode(id);
    if (!store || !episode) throw new NotFound(`There is no episode ${id} in ${this.dbPath ?? 'the store'}.`);
    if (episode.tracePath === null) throw new NotFound(`Episode ${id} (${episode.outcome}) was recorded without a trace, so it cannot be replayed.`);
    const poser = await this.studyPoser(episode.studyId);
    const blob = encodeContacts(poser.episodeContacts(store.loadEpisodeTrace(episode)));
    this.contactBlobs.set(id, blob);
    if (this.contactBlobs.size > BLOB_CACHE) this.contactBlobs.delete(this.contactBlobs.keys().next().value!);
    return blob;
  }

  /** A stored episode as an MCAP file (Foxglove, ros2 bag), with the file name to offer. */
  async episodeMcap(id: number): Promise<{ bytes: Buffer; fileName: string }> {
    const store = this.getStore();
    const episode = store?.episode(id);
    if (!store || !episode) throw new NotFound(`There is no episode ${id} in ${this.dbPath ?? 'the store'}.`);
    if (episode.tracePath === null) throw new NotFound(`Episode ${id} (${episode.outcome}) was recorded without a trace, so it has no MCAP file.`);
    const sink = new MemorySink();
    await writeEpisodesMcap(store, [episode], sink);
    const fileName = `${episode.studyId}-episode-${id}-c${episode.candidateId}-s${episode.seed}.mcap`.replace(/[^A-Za-z0-9._-]/g, '_');
    return { bytes: sink.bytes(), fileName };
  }

  /**
   * A stored episode's image topics and vision checks. The checks run on demand on the stored
   * trace: they are a pure function of its images and the scenario, so nothing else is stored.
   */
  async episodeImages(id: number): Promise<EpisodeImages> {
    const { trace, studyId } = this.episodeTrace(id);
    const images = [...trace.images.values()].map((i) => ({ topic: i.name, encoding: i.encoding, width: i.width, height: i.height, frameId: i.frameId, stamps: Array.from(i.stamps) }));
    try {
      const checks = runVisionChecks(trace, await this.studyScenario(studyId)).map(({ name, kind, required, pass, metrics }) => ({ name, kind, required, pass, metrics: finiteOnly(metrics) }));
      return { images, checks };
    } catch (err) {
      return { images, checks: [], checksProblem: (err as Error).message };
    }
  }

  /** One frame of a stored episode's image topic as a PNG (depth and labels made viewable). */
  imagePng(id: number, topic: string, frame: number): Buffer {
    const { trace } = this.episodeTrace(id);
    const series = trace.images.get(topic);
    if (!series) throw new NotFound(`Episode ${id} has no image topic '${topic}'; it has: ${[...trace.images.keys()].join(', ') || 'none'}.`);
    if (!(Number.isInteger(frame) && frame >= 0 && frame < series.stamps.length)) throw new NotFound(`Image topic '${topic}' of episode ${id} has ${series.stamps.length} frames; there is no frame ${frame}.`);
    return pngOf(viewable(imageFrame(series, frame)));
  }

  /** What a vision check of the study's scenario saw in a stored episode, drawn, as a PNG. */
  async visionPng(id: number, check: string): Promise<Buffer> {
    const { trace, studyId } = this.episodeTrace(id);
    const result = runVisionChecks(trace, await this.studyScenario(studyId)).find((r) => r.name === check);
    if (!result) throw new NotFound(`The scenario of episode ${id} has no vision check '${check}'.`);
    return pngOf(result.annotate());
  }

  /** A stored episode's trace (a few kept decoded), with its study. */
  private episodeTrace(id: number): { trace: Trace; studyId: string } {
    const store = this.getStore();
    const episode = store?.episode(id);
    if (!store || !episode) throw new NotFound(`There is no episode ${id} in ${this.dbPath ?? 'the store'}.`);
    if (episode.tracePath === null) throw new NotFound(`Episode ${id} (${episode.outcome}) was recorded without a trace, so it has no images.`);
    let trace = this.traces.get(id);
    if (trace) this.traces.delete(id);
    else trace = store.loadEpisodeTrace(episode);
    this.traces.set(id, trace);
    if (this.traces.size > TRACE_CACHE) this.traces.delete(this.traces.keys().next().value!);
    return { trace, studyId: episode.studyId };
  }

  /** Frees the worlds and closes the store. */
  async close(): Promise<void> {
    for (const p of this.posers.values()) (await p.catch(() => undefined))?.dispose();
    this.posers.clear();
    this.blobs.clear();
    this.contactBlobs.clear();
    this.traces.clear();
    this.store?.close();
    this.store = undefined;
  }

  private poser(key: string, make: () => Promise<Poser>): Promise<Poser> {
    let p = this.posers.get(key);
    if (!p) {
      p = make();
      this.posers.set(key, p);
      p.catch(() => this.posers.delete(key));
    }
    return p;
  }

  private scenario(path: string): Promise<LoadedScenario> {
    let s = this.scenarios.get(path);
    if (!s) {
      s = (async () => loadScenario(this.resolveScenario(path)))();
      this.scenarios.set(path, s);
      s.catch(() => this.scenarios.delete(path));
    }
    return s;
  }

  /** Study scenario paths are as given to `arbor run`: try the working directory, then the project of the db. */
  private resolveScenario(path: string): string {
    if (isAbsolute(path)) return path;
    const tries = [resolve(path)];
    if (this.dbPath) tries.push(resolve(dirname(resolve(this.dbPath)), '..', path));
    const found = tries.find((p) => existsSync(p));
    if (!found) throw new NotFound(`The study's scenario ${path} is not at ${tries.join(' or ')}; run arbor view from the project directory.`);
    return found;
  }
}

/** The finite values of a record (JSON has no NaN). */
function finiteOnly(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
}

/** The scene key of a scenario file. */
export function sceneKey(scenarioFile: string): string {
  return `s-${createHash('sha1').update(scenarioFile).digest('hex').slice(0, 10)}`;
}
