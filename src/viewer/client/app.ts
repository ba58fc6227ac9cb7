/**
 * The viewer page: replay of stored episodes (with plots and a side-by-side comparison), live
 * frames of running studies, the study dashboard, and a bare model. Keys as in MuJoCo's
 * simulate: Space plays/pauses, arrows step (Shift: 10 frames), Home/End jump, [ ] change the
 * speed, C toggles contacts, L toggles loop.
 */
import type { StudyView } from '../data.ts';
import type { LiveStreamInfo, Problem } from '../messages.ts';
import { attachContacts, frameAt, frameContacts, framePoses, type EpisodeFrames, type LiveFrameMessage } from '../protocol.ts';
import type { SceneSpec } from '../scene-spec.ts';
import { episodeMcapUrl, getContacts, getEpisode, getJson, getScene, Socket } from './api.ts';
import { Dashboard, h } from './dashboard.ts';
import { Pictures } from './pictures.ts';
import { Plots } from './plots.ts';
import { setGeomPositions, setGeomSizes, setHiddenBodies, syncFrame } from './scene3d.ts';
import { Stage, type CameraChoice } from './stage.ts';

type Mode = 'replay' | 'live' | 'model';
interface Info {
  live: boolean;
  model: boolean;
  db: boolean;
}
interface StudyListItem {
  id: string;
  scenarioName: string;
  status: string;
  candidates: number;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 4];

const stage = new Stage($<HTMLCanvasElement>('canvas'));
const plots = new Plots($('plots'), (t) => seek(t));
const pictures = new Pictures($('pictures'));
const dashboard = new Dashboard(
  { info: $('study-info'), workers: $('workers-panel'), chart: $('score-plot'), pareto: $('pareto-plot'), compare: $('compare-bar'), table: $<HTMLTableElement>('candidates'), episodes: $('episodes') },
  { open: (a, b) => void openReplay(a, b) },
);

const state = {
  mode: 'replay' as Mode,
  info: { live: false, model: false, db: false } as Info,
  study: undefined as string | undefined,
  episodes: [] as EpisodeFrames[],
  t: 0,
  playing: false,
  speed: 1,
  loop: true,
  contacts: true,
  live: { streams: [] as LiveStreamInfo[], stream: null as number | null, received: 0, drawn: 0, latest: undefined as LiveFrameMessage | undefined, paused: false, scene: '' },
  problems: [] as Problem[],
  fps: 0,
  frameTimes: [] as number[],
  renderMs: [] as number[],
  loadMs: 0,
};

const socket = new Socket({
  frame(f) {
    state.live.received++;
    state.live.latest = f;
  },
  status(streams) {
    state.live.streams = streams;
    renderWorkers();
    if (state.mode !== 'live') return;
    const s = liveStream();
    if (s && s.study !== state.study) void loadStudy(s.study, true);
    void prepareLiveScene();
  },
  studyChanged(study) {
    if (study === state.study) void loadStudy(study, false);
    void loadStudyList();
  },
  workers(study, workers) {
    if (study === state.study) dashboard.showWorkers(workers);
  },
  problem: (p) => showProblem(p),
  connection(open) {
    document.body.dataset.socket = open ? 'open' : 'closed';
  },
});

// ----- routing -------------------------------------------------------------------------------

function route(): URLSearchParams {
  return new URLSearchParams(location.hash.slice(1));
}

function setRoute(params: Record<string, string | number | undefined>): void {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  history.replaceState(null, '', `${location.pathname}${location.search}#${p}`);
}

async function start(): Promise<void> {
  bindControls();
  requestAnimationFrame(loop);
  state.info = await getJson<Info>('/api/info');
  if (!state.info.db) document.body.dataset.nodb = 'true';
  await loadStudyList();
  const r = route();
  const study = r.get('study') ?? undefined;
  if (r.has('model') || (state.info.model && !study && !r.has('episode') && !r.has('live') && !state.info.db)) await showModel();
  else if (r.has('live')) await showLive(study);
  else {
    const select = $<HTMLSelectElement>('study-select');
    const id = study ?? select.options[0]?.value;
    if (id) await loadStudy(id, true);
    else dashboard.empty(state.info.model ? 'No studies; showing the model.' : 'No studies in the store yet. Run `arbor run SCENARIO` and they appear here.');
    const episode = Number(r.get('episode'));
    const compare = Number(r.get('compare'));
    if (episode) await openReplay(episode, compare || undefined);
    else if (id) await openDefaultEpisode();
    else if (state.info.model) await showModel();
  }
  updateInfo();
  document.body.dataset.ready = 'true';
}

// ----- studies -------------------------------------------------------------------------------

async function loadStudyList(): Promise<void> {
  const studies = await getJson<StudyListItem[]>('/api/studies');
  const select = $<HTMLSelectElement>('study-select');
  const current = state.study ?? select.value;
  select.replaceChildren(...studies.map((s) => h('option', { value: s.id }, `${s.id} (${s.status}, ${s.candidates})`)));
  if (current && studies.some((s) => s.id === current)) select.value = current;
  select.disabled = studies.length === 0;
}

let currentView: StudyView | undefined;
async function loadStudy(id: string, select: boolean): Promise<void> {
  try {
    currentView = await getJson<StudyView>(`/api/studies/${encodeURIComponent(id)}`);
  } catch (err) {
    showProblem({ severity: 'error', message: (err as Error).message });
    return;
  }
  if (select || state.study !== id) {
    state.study = id;
    socket.watchStudy(id);
    $<HTMLSelectElement>('study-select').value = id;
  }
  dashboard.show(currentView);
  document.body.dataset.candidates = String(dashboard.rows);
}

/** Opens the best candidate's first episode (else the first episode) of the current study. */
async function openDefaultEpisode(): Promise<void> {
  const v = currentView;
  if (!v) return;
  const best = v.study.bestCandidate;
  const ep = v.episodes.find((e) => e.candidateId === best) ?? v.episodes[0];
  if (ep) await openReplay(ep.id);
  else await showStudyScene(v.study.id);
}

async function showStudyScene(study: string): Promise<void> {
  const spec = await getScene({ study });
  stage.setScene(spec, 1);
  fillCameraSelect(spec);
}

// ----- replay --------------------------------------------------------------------------------

let replayToken = 0;
async function openReplay(a: number, b?: number): Promise<void> {
  const token = ++replayToken;
  leaveLive();
  setMode('replay');
  const started = performance.now();
  let episodes: EpisodeFrames[];
  try {
    episodes = await Promise.all([a, ...(b ? [b] : [])].map((id) => getEpisode(id)));
  } catch (err) {
    showProblem({ severity: 'error', message: `Episode ${a}${b ? ` or ${b}` : ''} cannot be replayed: ${(err as Error).message}` });
    return;
  }
  if (token !== replayToken) return;
  const study = episodes[0].header.episode?.study ?? state.study;
  if (!study) return;
  if (study !== state.study) await loadStudy(study, true);
  const spec = await getScene({ study });
  if (token !== replayToken) return;
  if (episodes.some((e) => e.header.scene !== spec.key)) {
    showProblem({ severity: 'warn', message: 'The episode was recorded in another world than the study scene; the poses may not match.' });
  }
  state.episodes = episodes;
  stage.setScene(spec, episodes.length as 1 | 2);
  episodes.forEach((ep, i) => {
    setGeomSizes(stage.views[i], ep.header.geomSizes);
    setGeomPositions(stage.views[i], ep.header.geomPositions ?? {});
    setHiddenBodies(stage.views[i], ep.header.hidden);
  });
  fillCameraSelect(spec);
  const duration = Math.max(...episodes.map((e) => e.header.duration));
  const scrubber = $<HTMLInputElement>('scrubber');
  scrubber.max = String(Math.round(duration * 1000));
  plots.show(episodes[0], episodes[1]);
  pictures.show(a).catch((err: Error) => showProblem({ severity: 'warn', message: `The pictures of episode ${a} could not be loaded: ${err.message}` }));
  renderLabels();
  const mcap = $<HTMLAnchorElement>('mcap');
  mcap.href = episodeMcapUrl(a);
  mcap.hidden = false;
  setRoute({ study: state.study, episode: a, compare: b });
  state.t = 0;
  state.playing = true;
  drawReplay();
  state.loadMs = performance.now() - started;
  updateInfo();
  document.body.dataset.episode = String(a);
  // Contacts take the server longer (a full forward pass per frame): they follow.
  void Promise.all(
    episodes.map(async (ep) => {
      if (!ep.header.contactsPending || !ep.header.episode) return;
      attachContacts(ep, await getContacts(ep.header.episode.id));
      if (token === replayToken) drawReplay();
    }),
  ).catch((err: Error) => showProblem({ severity: 'warn', message: `Contacts could not be loaded: ${err.message}` }));
}

function duration(): number {
  return state.episodes.length ? Math.max(...state.episodes.map((e) => e.header.duration)) : 0;
}

/** Puts every view at the replay time `state.t`. */
function drawReplay(): void {
  state.episodes.forEach((ep, i) => {
    const f = frameAt(ep.times, state.t);
    syncFrame(stage.views[i], framePoses(ep, f), state.contacts ? frameContacts(ep, f) : undefined, ep.header.bodies);
  });
  stage.dirty = true;
  plots.cursor(state.t);
  pictures.time(state.t);
}

function seek(t: number): void {
  state.t = Math.min(Math.max(0, t), duration());
  drawReplay();
  updateInfo();
}

/** Steps `n` frames of episode A. */
function step(n: number): void {
  const ep = state.episodes[0];
  if (!ep) return;
  state.playing = false;
  const i = Math.min(ep.header.frames - 1, Math.max(0, frameAt(ep.times, state.t + 1e-6) + n));
  seek(ep.times[i]);
}

// ----- live ----------------------------------------------------------------------------------

async function showLive(study?: string): Promise<void> {
  setMode('live');
  state.episodes = [];
  plots.clear();
  pictures.clear();
  const id = study ?? liveStream()?.study ?? state.study ?? ($<HTMLSelectElement>('study-select').value || undefined);
  if (id) await loadStudy(id, id !== state.study);
  socket.subscribeLive(state.live.stream);
  setRoute({ live: 1, study: state.study });
  renderLabels();
  await prepareLiveScene();
  updateInfo();
}

function leaveLive(): void {
  if (state.mode === 'live') socket.unsubscribeLive();
}

/** The stream the page shows now. */
function liveStream(): LiveStreamInfo | undefined {
  const s = state.live.streams;
  if (state.live.stream !== null) return s.find((x) => x.stream === state.live.stream);
  return s.find((x) => x.active) ?? s[0];
}

async function prepareLiveScene(): Promise<void> {
  const s = liveStream();
  if (!s || !s.scene) return;
  if (state.live.scene !== s.scene) {
    const spec = await getScene({ study: s.study });
    stage.setScene(spec, 1);
    fillCameraSelect(spec);
    state.live.scene = s.scene;
  }
  setGeomSizes(stage.views[0], s.geomSizes);
  setGeomPositions(stage.views[0], s.geomPositions ?? {});
  setHiddenBodies(stage.views[0], []);
}

function drawLive(): void {
  const f = state.live.latest;
  if (!f) return;
  state.live.latest = undefined;
  socket.ack(f.seq);
  const s = liveStream();
  if (state.live.paused || !s || f.stream !== s.stream || state.live.scene !== s.scene || !stage.views[0]) return;
  syncFrame(stage.views[0], f.poses, state.contacts ? f.contacts : undefined);
  state.live.drawn++;
  lastLive = f;
  stage.dirty = true;
}
let lastLive: LiveFrameMessage | undefined;

function renderWorkers(): void {
  const box = $('live-workers');
  const buttons = state.live.streams.map((s) => {
    const b = h('button', { class: `worker${s.active ? ' active' : ''}${state.mode === 'live' && liveStream()?.stream === s.stream ? ' current' : ''}`, 'data-stream': String(s.stream), title: `study ${s.study}, candidate ${s.candidate}, seed ${s.seed}` }, `w${s.worker}`);
    b.addEventListener('click', () => {
      state.live.stream = s.stream;
      void showLive(s.study);
    });
    return b;
  });
  box.replaceChildren(...(buttons.length ? [h('span', { class: 'muted' }, 'live:'), ...buttons] : []));
  $<HTMLButtonElement>('mode-live').disabled = !state.info.live && state.live.streams.length === 0;
}

// ----- model ---------------------------------------------------------------------------------

async function showModel(): Promise<void> {
  leaveLive();
  setMode('model');
  state.episodes = [];
  plots.clear();
  pictures.clear();
  const spec = await getScene({ model: true });
  stage.setScene(spec, 1);
  fillCameraSelect(spec);
  setRoute({ model: 1 });
  renderLabels();
  updateInfo();
}

// ----- the frame loop ------------------------------------------------------------------------

let last = performance.now();
let lastRender = 0;
let renderedLast = false;
function loop(now: number): void {
  requestAnimationFrame(loop);
  const dt = Math.min(0.1, (now - last) / 1000);
  state.frameTimes.push(now - last);
  if (state.frameTimes.length > 240) state.frameTimes.shift();
  last = now;
  if (state.mode === 'replay' && state.playing && state.episodes.length) {
    let t = state.t + dt * state.speed;
    if (t > duration()) {
      if (state.loop) t = 0;
      else {
        t = duration();
        state.playing = false;
      }
    }
    state.t = t;
    drawReplay();
  }
  if (state.mode === 'live') drawLive();
  if (stage.choice.kind === 'follow') stage.dirty = true;
  if (stage.dirty) {
    if (renderedLast) stage.noteFrame(now - lastRender, now);
    lastRender = now;
    const r0 = performance.now();
    stage.render();
    state.renderMs.push(performance.now() - r0);
    if (state.renderMs.length > 240) state.renderMs.shift();
    renderedLast = true;
  } else renderedLast = false;
  // The info line is text for people: twice a second is enough, and each change costs a
  // repaint over the canvas (a missed frame on software WebGL).
  if (now - lastInfo > 500) {
    lastInfo = now;
    updateInfo();
  }
}
let lastInfo = 0;

/** Sets an element's text only when it changes (no layout work otherwise). */
function setText(id: string, text: string): void {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function updateInfo(): void {
  const mean = state.frameTimes.reduce((a, b) => a + b, 0) / Math.max(1, state.frameTimes.length);
  state.fps = mean > 0 ? 1000 / mean : 0;
  const contacts = stage.views[0]?.contactCount ?? 0;
  let text = '';
  if (state.mode === 'replay' && state.episodes.length) {
    const a = state.episodes[0];
    const i = frameAt(a.times, state.t);
    const e = a.header.episode;
    text = `t ${state.t.toFixed(2)} s · frame ${i + 1}/${a.header.frames} · contacts ${contacts} · ${state.speed}×${state.playing ? '' : ' · paused'}`;
    if (e) text += ` · episode ${e.id} (candidate ${e.candidateId}, ${e.split} seed ${e.seed}): ${e.outcome}, score ${e.score?.toFixed(3) ?? '–'}`;
    if (a.header.jointStatesOnly) text += ' · joint states only (forward kinematics)';
    const scrubber = $<HTMLInputElement>('scrubber');
    if (document.activeElement !== scrubber) scrubber.value = String(Math.round(state.t * 1000));
    setText('time', `${state.t.toFixed(2)} / ${duration().toFixed(2)} s`);
  } else if (state.mode === 'live') {
    const s = liveStream();
    text = s
      ? `LIVE · study ${s.study} · worker ${s.worker} · candidate ${s.candidate} · seed ${s.seed} · t ${lastLive?.time.toFixed(2) ?? '–'} s · contacts ${contacts} · ${state.live.drawn} frames${state.live.paused ? ' · paused' : ''}`
      : 'LIVE · waiting for a running study (arbor run … --view, or a study running beside arbor view)';
  } else if (state.mode === 'model') {
    const spec = stage.scene;
    text = spec ? `model ${spec.name} · ${spec.bodies.length} bodies · ${spec.geoms.length} geoms · ${spec.cameras.length} cameras` : '';
  }
  const scale = stage.renderScale < 0.999 ? ` · ${Math.round(100 * stage.renderScale)}% resolution` : '';
  setText('info', `${text} · ${state.fps.toFixed(0)} fps${scale}`);
  setText('play', state.playing ? '❚❚' : '▶');
}

// ----- controls ------------------------------------------------------------------------------

function setMode(mode: Mode): void {
  state.mode = mode;
  document.body.dataset.mode = mode;
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#modes button'))) b.classList.toggle('current', b.dataset.mode === mode);
  $('transport').classList.toggle('disabled', mode !== 'replay');
  renderWorkers();
}

function renderLabels(): void {
  const labels = $('labels');
  if (state.mode === 'replay' && state.episodes.length === 2) {
    const name = (e: EpisodeFrames) => (e.header.episode ? `episode ${e.header.episode.id} · candidate ${e.header.episode.candidateId} · seed ${e.header.episode.seed} · ${e.header.episode.outcome}` : '');
    labels.replaceChildren(h('span', { class: 'label-a' }, `A: ${name(state.episodes[0])}`), h('span', { class: 'label-b' }, `B: ${name(state.episodes[1])}`));
  } else labels.replaceChildren();
}

function fillCameraSelect(spec: SceneSpec): void {
  const select = $<HTMLSelectElement>('camera');
  const options = [h('option', { value: 'orbit' }, 'orbit camera')];
  for (const f of spec.follow) options.push(h('option', { value: `follow:${f.id}` }, `follow ${f.name}`));
  spec.cameras.forEach((c, i) => options.push(h('option', { value: `model:${i}` }, `camera ${c.name || i}`)));
  const keep = select.value;
  select.replaceChildren(...options);
  if (Array.from(select.options).some((o) => o.value === keep)) select.value = keep;
}

function cameraChoice(value: string): CameraChoice {
  const [kind, arg] = value.split(':');
  if (kind === 'follow') return { kind: 'follow', body: Number(arg) };
  if (kind === 'model') return { kind: 'model', index: Number(arg) };
  return { kind: 'orbit' };
}

function showProblem(p: Problem): void {
  state.problems.push(p);
  const box = $('problems');
  const el = h('div', { class: `problem ${p.severity}`, title: p.tip ?? '' }, p.message);
  box.replaceChildren(el);
  setTimeout(() => el.remove(), 8000);
}

function bindControls(): void {
  $<HTMLSelectElement>('study-select').addEventListener('change', (e) => {
    const id = (e.target as HTMLSelectElement).value;
    void loadStudy(id, true).then(() => (state.mode === 'live' ? undefined : openDefaultEpisode()));
  });
  $('mode-replay').addEventListener('click', () => {
    leaveLive();
    if (state.episodes.length) setMode('replay');
    else void openDefaultEpisode();
  });
  $('mode-live').addEventListener('click', () => void showLive(state.study));
  $('mode-model').addEventListener('click', () => {
    if (state.info.model) void showModel();
    else if (state.study) {
      leaveLive();
      state.episodes = [];
      plots.clear();
      pictures.clear();
      void showStudyScene(state.study).then(() => setMode('model'));
    }
  });
  $('play').addEventListener('click', () => togglePlay());
  $('step-back').addEventListener('click', () => step(-1));
  $('step-fwd').addEventListener('click', () => step(1));
  const scrubber = $<HTMLInputElement>('scrubber');
  scrubber.addEventListener('input', () => {
    state.playing = false;
    seek(Number(scrubber.value) / 1000);
  });
  const speed = $<HTMLSelectElement>('speed');
  speed.replaceChildren(...SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`)));
  speed.value = '1';
  speed.addEventListener('change', () => (state.speed = Number(speed.value)));
  const loopBox = $<HTMLInputElement>('loop');
  loopBox.addEventListener('change', () => (state.loop = loopBox.checked));
  const contactsBox = $<HTMLInputElement>('contacts-toggle');
  contactsBox.addEventListener('change', () => setContacts(contactsBox.checked));
  $<HTMLSelectElement>('camera').addEventListener('change', (e) => stage.setCamera(cameraChoice((e.target as HTMLSelectElement).value)));
  window.addEventListener('keydown', onKey);
}

function togglePlay(): void {
  if (state.mode === 'live') {
    state.live.paused = !state.live.paused;
    return;
  }
  if (!state.playing && state.t >= duration()) state.t = 0;
  state.playing = !state.playing;
}

function setContacts(on: boolean): void {
  state.contacts = on;
  $<HTMLInputElement>('contacts-toggle').checked = on;
  stage.setContactsVisible(on);
  if (state.mode === 'replay') drawReplay();
}

function onKey(e: KeyboardEvent): void {
  const target = e.target as HTMLElement;
  if (target.tagName === 'SELECT' || (target.tagName === 'INPUT' && (target as HTMLInputElement).type === 'text')) return;
  const n = e.shiftKey ? 10 : 1;
  switch (e.key) {
    case ' ':
      togglePlay();
      break;
    case 'ArrowRight':
      step(n);
      break;
    case 'ArrowLeft':
      step(-n);
      break;
    case 'Home':
      state.playing = false;
      seek(0);
      break;
    case 'End':
      state.playing = false;
      seek(duration());
      break;
    case ']':
      state.speed = SPEEDS[Math.min(SPEEDS.length - 1, SPEEDS.indexOf(state.speed) + 1)] ?? 1;
      $<HTMLSelectElement>('speed').value = String(state.speed);
      break;
    case '[':
      state.speed = SPEEDS[Math.max(0, SPEEDS.indexOf(state.speed) - 1)] ?? 1;
      $<HTMLSelectElement>('speed').value = String(state.speed);
      break;
    case 'c':
      setContacts(!state.contacts);
      break;
    case 'l':
      state.loop = !state.loop;
      $<HTMLInputElement>('loop').checked = state.loop;
      break;
    default:
      return;
  }
  e.preventDefault();
  stage.dirty = true;
}

// ----- hooks for tests and benchmarks (read-only views of the page) ---------------------------

const bodyId = (name: string) => stage.scene?.bodies.find((b) => b.name === name)?.id ?? -1;
Object.assign(window, {
  arbor: {
    status: () => ({
      mode: state.mode,
      ready: document.body.dataset.ready === 'true',
      scene: stage.scene?.key,
      study: state.study,
      episodes: state.episodes.map((e) => e.header.episode?.id),
      frames: state.episodes[0]?.header.frames ?? 0,
      contactsLoaded: state.episodes.length > 0 && state.episodes.every((e) => !e.header.contactsPending),
      t: state.t,
      playing: state.playing,
      candidates: dashboard.rows,
      liveReceived: state.live.received,
      liveDrawn: state.live.drawn,
      streams: state.live.streams.length,
      fps: state.fps,
      renderScale: stage.renderScale,
      loadMs: state.loadMs,
      problems: state.problems.map((p) => p.message),
    }),
    frameStats: () => ({ frameTimes: [...state.frameTimes], renderMs: [...state.renderMs] }),
    open: (a: number, b?: number) => openReplay(a, b),
    live: (study?: string) => showLive(study),
    pause: () => (state.playing = false),
    lockScale: (scale?: number) => stage.lockScale(scale),
    seek: (t: number) => {
      state.playing = false;
      seek(t);
    },
    project: (name: string, v = 0) => stage.project(bodyId(name), v),
    setBodiesVisible(names: string[], visible: boolean) {
      for (const v of stage.views) for (const n of names) if (v.bodies[bodyId(n)]) v.bodies[bodyId(n)].visible = visible;
      stage.dirty = true;
    },
    /** Renders now and reads an RGBA rectangle (CSS px from the top left) as base64. */
    readPixels(x: number, y: number, w: number, h: number): string {
      stage.render();
      const gl = stage.renderer.getContext();
      const ratio = stage.renderer.getPixelRatio();
      const height = gl.drawingBufferHeight;
      const [px, py, pw, ph] = [Math.round(x * ratio), Math.round(height - (y + h) * ratio), Math.round(w * ratio), Math.round(h * ratio)];
      const buf = new Uint8Array(pw * ph * 4);
      gl.readPixels(px, py, pw, ph, gl.RGBA, gl.UNSIGNED_BYTE, buf);
      let s = '';
      for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
      return btoa(s);
    },
    sendRaw: (text: string) => socket.sendRaw(text),
  },
});

window.addEventListener('hashchange', () => {
  const r = route();
  const episode = Number(r.get('episode'));
  if (episode && !state.episodes.some((e) => e.header.episode?.id === episode)) void openReplay(episode, Number(r.get('compare')) || undefined);
});

start().catch((err: Error) => {
  showProblem({ severity: 'error', message: `The viewer could not start: ${err.message}` });
  document.body.dataset.ready = 'error';
});
