/**
 * The viewer page: replay of stored episodes (with plots, pictures and a side-by-side
 * comparison), live frames of running studies, the study dashboard, and a bare model.
 *
 * `Viewer` owns the page's parts and moves them together; each part has one job and lives in its
 * own module: the replay's clock (replay.ts), the live streams (live.ts), the keyboard (keys.ts),
 * the controls (transport.ts, toolbar.ts), the server (api.ts), the 3D stage (stage.ts). The
 * parts tell the viewer what the user asks through events, and the page's text is drawn from
 * their plain snapshots (`status()`, `infoLine`).
 */
import type { StudyView } from '../data.ts';
import type { Problem } from '../messages.ts';
import { attachContacts, frameAt, frameContacts, framePoses, type EpisodeFrames } from '../protocol.ts';
import type { SceneSpec } from '../scene-spec.ts';
import type { ViewerInfo } from '../views.ts';
import { Api, Socket } from './api.ts';
import { FrameClock } from './clock.ts';
import { Dashboard } from './dashboard.ts';
import { h, type PageElements } from './elements.ts';
import { Heatmap } from './heatmap.ts';
import { infoLine } from './info.ts';
import { Keys } from './keys.ts';
import { Live } from './live.ts';
import { Pictures } from './pictures.ts';
import { Plots } from './plots.ts';
import { Problems } from './problems.ts';
import { Replay } from './replay.ts';
import { formatRoute, parseRoute, type Route } from './route.ts';
import { setGeomPositions, setGeomSizes, setHiddenBodies, syncFrame } from './scene3d.ts';
import { Stage } from './stage.ts';
import { Toolbar, type Mode } from './toolbar.ts';
import { setText, Transport } from './transport.ts';

/** A plain snapshot of the page, for tests and benchmarks (`window.arbor.status()`). */
export interface ViewerStatus {
  /** What the page shows. */
  mode: Mode;
  /** True once the page has opened what its address asks for. */
  ready: boolean;
  /** Key of the scene on the stage. */
  scene: string | undefined;
  /** The study shown. */
  study: string | undefined;
  /** Ids of the episodes replayed (A, then B). */
  episodes: (number | undefined)[];
  /** Frames of episode A. */
  frames: number;
  /** True when every replayed episode has its contacts. */
  contactsLoaded: boolean;
  /** Replay time (s). */
  t: number;
  /** True while the replay plays. */
  playing: boolean;
  /** Rows of the candidate table. */
  candidates: number;
  /** Live frames received. */
  liveReceived: number;
  /** Live frames drawn. */
  liveDrawn: number;
  /** Live streams announced. */
  streams: number;
  /** Animation frames per second. */
  fps: number;
  /** Fraction of the canvas resolution drawn. */
  renderScale: number;
  /** Milliseconds the last replay took to open. */
  loadMs: number;
  /** Every problem shown so far. */
  problems: string[];
}

/** How often the info line is redrawn while nothing else asks (ms): it is text for people, and each change repaints over the canvas. */
const INFO_EVERY_MS = 500;

export class Viewer {
  /** The 3D stage. */
  readonly stage: Stage;
  /** The replay's clock and episodes. */
  readonly replay = new Replay();
  /** The live streams. */
  readonly live = new Live();
  /** The page's frame and render times. */
  readonly clock = new FrameClock();
  private readonly api: Api;
  private readonly socket: Socket;
  private readonly problems: Problems;
  private readonly plots: Plots;
  private readonly pictures: Pictures;
  private readonly dashboard: Dashboard;
  private readonly heatmap: Heatmap;
  private readonly transport: Transport;
  private readonly toolbar: Toolbar;
  private readonly keys: Keys;
  private mode: Mode = 'replay';
  private info: ViewerInfo = { live: false, model: false, db: false, readonly: true };
  private study: string | undefined;
  private view: StudyView | undefined;
  private contacts = true;
  /** Counts replays opened, so a slow one that finishes after a newer one is dropped. */
  private replayToken = 0;
  private loadMs = 0;
  private lastRender = 0;
  private renderedLast = false;
  private lastInfo = 0;

  constructor(
    private readonly el: PageElements,
    private readonly win: Window,
  ) {
    this.api = new Api(win.location);
    this.stage = new Stage(el.canvas);
    this.problems = new Problems(el.problems);
    // A click on a plot moves the timeline there and keeps playing, if it was.
    this.plots = new Plots(el.plots, (t) => {
      this.replay.seek(t);
      this.updateInfo();
    });
    this.pictures = new Pictures(el.pictures, this.api);
    this.dashboard = new Dashboard(
      { info: el.studyInfo, workers: el.workersPanel, chart: el.scorePlot, pareto: el.paretoPlot, compare: el.compareBar, table: el.candidates, episodes: el.episodes },
      { open: (a, b) => void this.open(a, b) },
    );
    this.heatmap = new Heatmap(el.gauntletHeatmap, (candidate) => this.dashboard.select(candidate));
    this.transport = new Transport(el);
    this.toolbar = new Toolbar(el);
    this.keys = new Keys(win);
    this.socket = new Socket(this.api.socketUrl(), {
      frame: (f) => this.live.receive(f),
      status: (streams) => {
        this.live.setStreams(streams);
        this.onStreams();
      },
      studyChanged: (study) => this.onStudyChanged(study),
      workers: (study, workers) => study === this.study && this.dashboard.showWorkers(workers),
      problem: (p) => this.problem(p),
      connection: (open) => (win.document.body.dataset.socket = open ? 'open' : 'closed'),
    });
    this.replay.on('time', () => this.drawReplay());
    this.listen();
  }

  /** Opens what the page's address asks for (else the newest study's best episode), then runs the frame loop. */
  async start(): Promise<void> {
    this.win.requestAnimationFrame((now) => this.frame(now));
    this.info = await this.api.info();
    if (!this.info.db) this.win.document.body.dataset.nodb = 'true';
    await this.loadStudyList();
    await this.openRoute(parseRoute(this.win.location.hash));
    this.updateInfo();
    this.win.document.body.dataset.ready = 'true';
  }

  /** Shows a problem to the user. */
  problem(p: Problem): void {
    this.problems.show(p);
  }

  status(): ViewerStatus {
    const episodes = this.replay.episodes;
    return {
      mode: this.mode,
      ready: this.win.document.body.dataset.ready === 'true',
      scene: this.stage.scene?.key,
      study: this.study,
      episodes: episodes.map((e) => e.header.episode?.id),
      frames: episodes[0]?.header.frames ?? 0,
      contactsLoaded: episodes.length > 0 && episodes.every((e) => !e.header.contactsPending),
      t: this.replay.time,
      playing: this.replay.playing,
      candidates: this.dashboard.rows,
      liveReceived: this.live.received,
      liveDrawn: this.live.drawn,
      streams: this.live.streams.length,
      fps: this.clock.fps,
      renderScale: this.stage.renderScale,
      loadMs: this.loadMs,
      problems: this.problems.list.map((p) => p.message),
    };
  }

  /** Pauses the replay at time `t` (s). */
  seek(t: number): void {
    this.replay.pause();
    this.replay.seek(t);
    this.updateInfo();
  }

  /** Sends raw text on the socket (tests send malformed messages). */
  sendRaw(text: string): void {
    this.socket.sendRaw(text);
  }

  // ----- what the user asks ------------------------------------------------------------------

  private listen(): void {
    const { replay, transport, keys, toolbar } = this;
    // What the user asks moves the picture and the info line at once (playback waits for the next frame).
    const act = (change: () => void) => {
      change();
      this.stage.dirty = true;
      this.updateInfo();
    };
    transport.on('play', () => act(() => this.togglePlay()));
    transport.on('step', (n) => act(() => replay.step(n)));
    transport.on('seek', (t) => this.seek(t));
    transport.on('speed', (speed) => replay.setSpeed(speed));
    transport.on('loop', (loop) => replay.setLoop(loop));
    transport.on('contacts', (on) => this.setContacts(on));
    transport.on('camera', (choice) => this.stage.setCamera(choice));
    keys.on('play', () => act(() => this.togglePlay()));
    keys.on('step', (n) => act(() => replay.step(n)));
    keys.on('jump', (to) => act(() => replay.jump(to)));
    keys.on('speed', (direction) => act(() => replay.changeSpeed(direction)));
    keys.on('contacts', () => act(() => this.setContacts(!this.contacts)));
    keys.on('loop', () => act(() => replay.setLoop(!replay.loop)));
    toolbar.on('study', (id) => void this.loadStudy(id, true).then(() => (this.mode === 'live' ? undefined : this.openDefaultEpisode())));
    toolbar.on('mode', (mode) => void this.switchMode(mode));
    toolbar.on('stream', (s) => {
      this.live.choose(s.stream);
      void this.showLive(s.study);
    });
    this.win.addEventListener('hashchange', () => {
      const r = parseRoute(this.win.location.hash);
      // A link to another study (a gauntlet of this one's best): its dashboard and best episode.
      if (r.study && r.study !== this.study && !r.episode && !r.live) return void this.loadStudy(r.study, true).then(() => this.openDefaultEpisode());
      if (r.episode && !replay.episodes.some((e) => e.header.episode?.id === r.episode)) void this.open(r.episode, r.compare);
    });
  }

  private togglePlay(): void {
    if (this.mode === 'live') this.live.paused = !this.live.paused;
    else this.replay.togglePlay();
  }

  private setContacts(on: boolean): void {
    this.contacts = on;
    this.transport.showContacts(on);
    this.stage.setContactsVisible(on);
    if (this.mode === 'replay') this.drawReplay();
  }

  private async switchMode(mode: Mode): Promise<void> {
    if (mode === 'live') return this.showLive(this.study);
    if (mode === 'replay') {
      this.leaveLive();
      if (this.replay.episodes.length) this.setMode('replay');
      else await this.openDefaultEpisode();
      return;
    }
    if (this.info.model) return this.showModel();
    if (!this.study) return;
    this.leaveLive();
    this.clearEpisode();
    await this.showStudyScene(this.study);
    this.setMode('model');
  }

  private async openRoute(r: Route): Promise<void> {
    if (r.model || (this.info.model && !r.study && !r.episode && !r.live && !this.info.db)) return this.showModel();
    if (r.live) return this.showLive(r.study);
    const id = r.study ?? this.toolbar.study;
    if (id) await this.loadStudy(id, true);
    else this.dashboard.empty(this.info.model ? 'No studies; showing the model.' : 'No studies in the store yet. Run `arbor run SCENARIO` and they appear here.');
    if (r.episode) await this.open(r.episode, r.compare);
    else if (id) await this.openDefaultEpisode();
    else if (this.info.model) await this.showModel();
  }

  // ----- studies -----------------------------------------------------------------------------

  private async loadStudyList(): Promise<void> {
    this.toolbar.showStudies(await this.api.studies(), this.study);
  }

  private async loadStudy(id: string, select: boolean): Promise<void> {
    try {
      this.view = await this.api.study(id);
    } catch (err) {
      this.problem({ severity: 'error', message: (err as Error).message });
      return;
    }
    if (select || this.study !== id) {
      this.study = id;
      this.socket.watchStudy(id);
      this.toolbar.pickStudy(id);
    }
    this.dashboard.show(this.view);
    this.win.document.body.dataset.candidates = String(this.dashboard.rows);
    await this.showHeatmap(this.view);
  }

  /** A gauntlet study's tier × axis heatmap above its dashboard; none for other studies. */
  private async showHeatmap(view: StudyView): Promise<void> {
    if (view.study.researcher !== 'gauntlet') return this.heatmap.show(undefined);
    try {
      const matrix = await this.api.gauntlet(view.study.id);
      if (this.view === view) this.heatmap.show(matrix);
    } catch (err) {
      this.heatmap.show(undefined);
      this.problem({ severity: 'warn', message: `The gauntlet's heatmap could not be loaded: ${(err as Error).message}` });
    }
  }

  private onStudyChanged(study: string): void {
    if (study === this.study) void this.loadStudy(study, false);
    void this.loadStudyList();
  }

  /** Opens the best candidate's first episode (else the first episode) of the current study. */
  private async openDefaultEpisode(): Promise<void> {
    const v = this.view;
    if (!v) return;
    const ep = v.episodes.find((e) => e.candidateId === v.study.bestCandidate) ?? v.episodes[0];
    if (ep) await this.open(ep.id);
    else await this.showStudyScene(v.study.id);
  }

  private async showStudyScene(study: string): Promise<void> {
    this.showScene(await this.api.scene({ study }), 1);
  }

  private showScene(spec: SceneSpec, views: 1 | 2): void {
    this.stage.setScene(spec, views);
    this.transport.offerCameras(spec);
  }

  // ----- replay ------------------------------------------------------------------------------

  /** Replays stored episode `a` (and `b` beside it). */
  async open(a: number, b?: number): Promise<void> {
    const token = ++this.replayToken;
    this.leaveLive();
    this.setMode('replay');
    const started = performance.now();
    let episodes: EpisodeFrames[];
    try {
      episodes = await Promise.all([a, ...(b ? [b] : [])].map((id) => this.api.episode(id)));
    } catch (err) {
      this.problem({ severity: 'error', message: `Episode ${a}${b ? ` or ${b}` : ''} cannot be replayed: ${(err as Error).message}` });
      return;
    }
    if (token !== this.replayToken) return;
    const study = episodes[0].header.episode?.study ?? this.study;
    if (!study) return;
    if (study !== this.study) await this.loadStudy(study, true);
    const spec = await this.api.scene({ study });
    if (token !== this.replayToken) return;
    this.present(episodes, spec, a);
    this.setRoute({ study: this.study, episode: a, compare: b });
    this.loadMs = performance.now() - started;
    this.updateInfo();
    this.win.document.body.dataset.episode = String(a);
    // Contacts take the server longer (a full forward pass per frame): they follow.
    void this.loadContacts(episodes, token);
  }

  /** Puts replayed episodes on the stage, the plots and the pictures (those of `a`, the first), and plays them from the start. */
  private present(episodes: EpisodeFrames[], spec: SceneSpec, a: number): void {
    if (episodes.some((e) => e.header.scene !== spec.key)) {
      this.problem({ severity: 'warn', message: 'The episode was recorded in another world than the study scene; the poses may not match.' });
    }
    this.showScene(spec, episodes.length === 2 ? 2 : 1);
    episodes.forEach((ep, i) => {
      setGeomSizes(this.stage.views[i], ep.header.geomSizes);
      setGeomPositions(this.stage.views[i], ep.header.geomPositions ?? {});
      setHiddenBodies(this.stage.views[i], ep.header.hidden);
    });
    this.plots.show(episodes[0], episodes[1]);
    this.pictures.show(a).catch((err: Error) => this.problem({ severity: 'warn', message: `The pictures of episode ${a} could not be loaded: ${err.message}` }));
    this.transport.offerMcap(this.api.mcapUrl(a));
    this.replay.load(episodes);
    this.renderLabels();
  }

  private async loadContacts(episodes: EpisodeFrames[], token: number): Promise<void> {
    try {
      await Promise.all(
        episodes.map(async (ep) => {
          if (!ep.header.contactsPending || !ep.header.episode) return;
          attachContacts(ep, await this.api.contacts(ep.header.episode.id));
          if (token === this.replayToken) this.drawReplay();
        }),
      );
    } catch (err) {
      this.problem({ severity: 'warn', message: `Contacts could not be loaded: ${(err as Error).message}` });
    }
  }

  /** Puts every view at the replay's time. */
  private drawReplay(): void {
    const t = this.replay.time;
    this.replay.episodes.forEach((ep, i) => {
      const view = this.stage.views[i];
      if (!view) return;
      const f = frameAt(ep.times, t);
      syncFrame(view, framePoses(ep, f), this.contacts ? frameContacts(ep, f) : undefined, ep.header.bodies);
    });
    this.stage.dirty = true;
    this.plots.cursor(t);
    this.pictures.time(t);
  }

  /** Empties what belongs to a replayed episode (live and model modes have none). */
  private clearEpisode(): void {
    this.replay.clear();
    this.plots.clear();
    this.pictures.clear();
  }

  /** Names episodes A and B under their halves of the stage while two are replayed. */
  private renderLabels(): void {
    const [a, b] = this.replay.episodes;
    if (this.mode !== 'replay' || !a || !b) return this.el.labels.replaceChildren();
    const name = (e: EpisodeFrames) => {
      const ep = e.header.episode;
      return ep ? `episode ${ep.id} · candidate ${ep.candidateId} · seed ${ep.seed} · ${ep.outcome}` : '';
    };
    this.el.labels.replaceChildren(h('span', { class: 'label-a' }, `A: ${name(a)}`), h('span', { class: 'label-b' }, `B: ${name(b)}`));
  }

  // ----- live --------------------------------------------------------------------------------

  /** Watches the live streams (of `study`, else of the running one). */
  async showLive(study?: string): Promise<void> {
    this.setMode('live');
    this.clearEpisode();
    const id = study ?? this.live.current?.study ?? this.study ?? this.toolbar.study;
    if (id) await this.loadStudy(id, id !== this.study);
    this.socket.subscribeLive(this.live.subscription);
    this.setRoute({ live: true, study: this.study });
    await this.prepareLiveScene();
    this.updateInfo();
  }

  private leaveLive(): void {
    if (this.mode === 'live') this.socket.unsubscribeLive();
  }

  private onStreams(): void {
    this.renderWorkers();
    if (this.mode !== 'live') return;
    const s = this.live.current;
    if (s && s.study !== this.study) void this.loadStudy(s.study, true);
    void this.prepareLiveScene();
  }

  /** Sets the stage up for the current stream: its study's scene, its episode's object sizes and zones. */
  private async prepareLiveScene(): Promise<void> {
    const s = this.live.current;
    if (!s || !s.scene) return;
    if (this.live.scene !== s.scene) {
      this.showScene(await this.api.scene({ study: s.study }), 1);
      this.live.scene = s.scene;
    }
    setGeomSizes(this.stage.views[0], s.geomSizes);
    setGeomPositions(this.stage.views[0], s.geomPositions ?? {});
    setHiddenBodies(this.stage.views[0], []);
  }

  private drawLive(): void {
    const f = this.live.take();
    if (!f) return;
    this.socket.ack(f.seq);
    const view = this.stage.views[0];
    if (!view || !this.live.shows(f)) return;
    syncFrame(view, f.poses, this.contacts ? f.contacts : undefined);
    this.live.drew(f);
    this.stage.dirty = true;
  }

  private renderWorkers(): void {
    this.toolbar.showStreams(this.live.streams, this.mode === 'live' ? this.live.current?.stream : undefined, this.info.live);
  }

  // ----- model -------------------------------------------------------------------------------

  private async showModel(): Promise<void> {
    this.leaveLive();
    this.setMode('model');
    this.clearEpisode();
    this.showScene(await this.api.scene({ model: true }), 1);
    this.setRoute({ model: true });
    this.updateInfo();
  }

  // ----- the page ----------------------------------------------------------------------------

  private setMode(mode: Mode): void {
    this.mode = mode;
    this.win.document.body.dataset.mode = mode;
    this.toolbar.showMode(mode);
    this.transport.enable(mode === 'replay');
    this.renderWorkers();
    this.renderLabels();
  }

  private setRoute(route: Partial<Route>): void {
    const { pathname, search } = this.win.location;
    this.win.history.replaceState(null, '', `${pathname}${search}#${formatRoute(route)}`);
  }

  /** One animation frame: advance the replay or draw the newest live frame, render when something changed. */
  private frame(now: number): void {
    this.win.requestAnimationFrame((next) => this.frame(next));
    const dt = Math.min(0.1, this.clock.tick(now));
    if (this.mode === 'replay') this.replay.advance(dt);
    if (this.mode === 'live') this.drawLive();
    if (this.stage.choice.kind === 'follow') this.stage.dirty = true;
    if (this.stage.dirty) {
      if (this.renderedLast) this.stage.noteFrame(now - this.lastRender, now);
      this.lastRender = now;
      const started = performance.now();
      this.stage.render();
      this.clock.rendered(performance.now() - started);
      this.renderedLast = true;
    } else this.renderedLast = false;
    if (now - this.lastInfo > INFO_EVERY_MS) {
      this.lastInfo = now;
      this.updateInfo();
    }
  }

  private updateInfo(): void {
    const replay = this.replay.state();
    const { current, last, drawn, paused } = this.live;
    const contacts = this.stage.views[0]?.contactCount ?? 0;
    const snapshot = { mode: this.mode, replay, live: { stream: current, time: last?.time, drawn, paused }, scene: this.stage.scene, contacts, fps: this.clock.fps, renderScale: this.stage.renderScale };
    setText(this.el.info, infoLine(snapshot));
    this.transport.show(replay);
  }
}
