/*
 * Native MuJoCo reference for the arbor benchmark: how many physics steps per second native
 * MuJoCo takes on a given MJCF, to compare with mujoco-js (WebAssembly) on the same world.
 *
 *   step MODEL.xml NSTEPS [Q1,Q2,Q3,Q4,Q5,Q6]
 *
 * Loads MODEL.xml, optionally sets the first 6 qpos values (the arm's joints; default all zero),
 * runs mj_forward, warms up for 1000 steps, then times NSTEPS mj_step calls with ctrl held at
 * zero (CLOCK_MONOTONIC). Prints one JSON line:
 *   {"mujoco_version": "...", "steps": N, "seconds": S, "steps_per_second": R}
 * Build with bench/native/build.sh.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mujoco/mujoco.h>

#define WARMUP_STEPS 1000
#define NPOSE 6

static void usage(const char* argv0) {
  fprintf(stderr, "usage: %s MODEL.xml NSTEPS [Q1,Q2,Q3,Q4,Q5,Q6]\n", argv0);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Parses "a,b,c,d,e,f" into exactly NPOSE doubles; returns 0 on success. */
static int parse_pose(const char* text, double* out) {
  const char* p = text;
  for (int i = 0; i < NPOSE; i++) {
    char* end = NULL;
    errno = 0;
    out[i] = strtod(p, &end);
    if (end == p || errno != 0) return -1;
    p = end;
    if (i < NPOSE - 1) {
      if (*p != ',') return -1;
      p++;
    }
  }
  return *p == '\0' ? 0 : -1;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    usage(argv[0]);
    return 2;
  }
  const char* path = argv[1];
  char* end = NULL;
  long nsteps = strtol(argv[2], &end, 10);
  if (end == argv[2] || *end != '\0' || nsteps <= 0) {
    fprintf(stderr, "NSTEPS must be a positive integer, got '%s'\n", argv[2]);
    usage(argv[0]);
    return 2;
  }
  double pose[NPOSE] = {0};
  if (argc == 4 && parse_pose(argv[3], pose) != 0) {
    fprintf(stderr, "initial pose must be %d comma-separated numbers, got '%s'\n", NPOSE, argv[3]);
    usage(argv[0]);
    return 2;
  }

  char error[1000] = "";
  mjModel* m = mj_loadXML(path, NULL, error, sizeof(error));
  if (!m) {
    fprintf(stderr, "MuJoCo could not load %s: %s\n", path, error[0] ? error : "(no message)");
    return 1;
  }
  if (error[0]) fprintf(stderr, "MuJoCo warning while loading %s: %s\n", path, error);

  mjData* d = mj_makeData(m);
  if (!d) {
    fprintf(stderr, "mj_makeData failed for %s\n", path);
    mj_deleteModel(m);
    return 1;
  }
  if (m->nq < NPOSE && argc == 4) {
    fprintf(stderr, "the model has only %d qpos values, cannot set %d\n", m->nq, NPOSE);
    mj_deleteData(d);
    mj_deleteModel(m);
    return 1;
  }
  for (int i = 0; i < NPOSE && i < m->nq; i++) d->qpos[i] = pose[i];
  mju_zero(d->ctrl, m->nu);
  mj_forward(m, d);

  for (int i = 0; i < WARMUP_STEPS; i++) {
    mju_zero(d->ctrl, m->nu);
    mj_step(m, d);
  }

  double start = now_seconds();
  for (long i = 0; i < nsteps; i++) {
    mju_zero(d->ctrl, m->nu);
    mj_step(m, d);
  }
  double seconds = now_seconds() - start;

  int diverged = 0;
  for (int i = 0; i < m->nq; i++)
    if (mju_isBad(d->qpos[i])) diverged = 1;
  if (diverged) fprintf(stderr, "warning: the simulation diverged (non-finite qpos)\n");

  printf("{\"mujoco_version\": \"%s\", \"steps\": %ld, \"seconds\": %.6f, \"steps_per_second\": %.1f}\n",
         mj_versionString(), nsteps, seconds, seconds > 0 ? (double)nsteps / seconds : 0.0);

  mj_deleteData(d);
  mj_deleteModel(m);
  return 0;
}
