/**
 * The ROS domain a test file talks ROS 2 in, so it neither hears nor disturbs another ROS process
 * on the machine: a rig's rosbridge_server or a robot in the default domain 0, or the test file
 * running beside it (vitest runs two files at once, each in a worker of its own).
 *  - `ARBOR_TEST_ROS_DOMAINS=FIRST-LAST` (CI, a machine of its own): each worker takes its own
 *    domain of that range, so files running at once never share one.
 *  - else `ROS_DOMAIN_ID` as set: a developer's own domain on a shared machine (files then keep
 *    apart by their namespaces).
 *  - else one of 215-232 (valid on Linux, rarely used), never the default 0.
 * Call it at the top of the file: rclnodejs and every `sim-serve --ros2` child read the variable
 * when they start.
 */
const FALLBACK = { first: 215, last: 232 };

export function useTestRosDomain(env: NodeJS.ProcessEnv = process.env): number {
  const worker = Math.max(0, Number(env.VITEST_POOL_ID ?? 1) - 1);
  const range = env.ARBOR_TEST_ROS_DOMAINS;
  let domain: number;
  if (range !== undefined) {
    const m = /^(\d+)-(\d+)$/.exec(range);
    const [first, last] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
    if (!(first <= last && last <= 232)) throw new Error(`ARBOR_TEST_ROS_DOMAINS=${range} must be FIRST-LAST, two ROS domain ids 0..232 with FIRST <= LAST, such as 60-61.`);
    domain = first + (worker % (last - first + 1));
  } else if (env.ROS_DOMAIN_ID !== undefined && env.ROS_DOMAIN_ID !== '') {
    domain = Number(env.ROS_DOMAIN_ID);
  } else {
    domain = FALLBACK.first + (worker % (FALLBACK.last - FALLBACK.first + 1));
  }
  env.ROS_DOMAIN_ID = String(domain);
  return domain;
}
