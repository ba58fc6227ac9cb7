/**
 * The topics every backend publishes, their ROS message types and flattened fields. The scorer
 * and the viewer read these names, never backend internals.
 */

export const TOPIC = {
  /** sensor_msgs/JointState of the arm joints. */
  jointStates: '/joint_states',
  /** geometry_msgs/WrenchStamped of the wrist force/torque sensor. */
  wrench: '/wrench',
  /** Gripper opening, command, force and finger-pad touch. */
  gripper: '/gripper',
  /** rosgraph_msgs/Clock: the time base of the episode. */
  clock: '/clock',
  /** Per control period: contact count and peak forces by pair class. */
  contacts: '/contacts',
  /** Per control period: what the safety envelope had to clamp. */
  safety: '/safety',
  /**
   * trajectory_msgs/JointTrajectory: the arm command the link sent each control period (after the
   * safety envelope), one point each, as a JointTrajectoryController takes it. With /joint_states it
   * is what calibration replays: the command in, the motion out.
   */
  command: '/joint_trajectory_controller/joint_trajectory',
} as const;

/** geometry_msgs/PoseStamped topic of a tracked object. */
export const objectPoseTopic = (object: string) => `/object_pose/${object}`;

/** What a camera records: colour, depth or the label (segmentation) of each pixel. */
export type CameraImageKind = 'rgb' | 'depth' | 'segmentation';
/** sensor_msgs/Image topic of one of a camera's images, e.g. `/camera/top/rgb`. */
export const cameraTopic = (camera: string, kind: CameraImageKind) => `/camera/${camera}/${kind}`;

export const TYPE = {
  jointStates: 'sensor_msgs/JointState',
  pose: 'geometry_msgs/PoseStamped',
  wrench: 'geometry_msgs/WrenchStamped',
  gripper: 'arbor_msgs/GripperState',
  clock: 'rosgraph_msgs/Clock',
  contacts: 'arbor_msgs/ContactSummary',
  safety: 'arbor_msgs/SafetyReport',
  image: 'sensor_msgs/Image',
  trajectory: 'trajectory_msgs/JointTrajectory',
} as const;

/** JointState flattened: positions, then velocities, then efforts, per joint. */
export const jointStateFields = (joints: string[]) => [
  ...joints.map((j) => `position.${j}`),
  ...joints.map((j) => `velocity.${j}`),
  ...joints.map((j) => `effort.${j}`),
];
/**
 * A one-point JointTrajectory flattened: the point's time from the message's start (s), then its
 * position per joint. The row's stamp is when the message was sent.
 */
export const trajectoryFields = (joints: string[]) => ['time_from_start', ...joints.map((j) => `positions.${j}`)];
export const POSE_FIELDS = [
  'position.x', 'position.y', 'position.z',
  'orientation.x', 'orientation.y', 'orientation.z', 'orientation.w',
];
export const WRENCH_FIELDS = ['force.x', 'force.y', 'force.z', 'torque.x', 'torque.y', 'torque.z'];
/** Opening (m), commanded opening (m), finger force (N), pad touch left/right (N). */
export const GRIPPER_FIELDS = ['position', 'command', 'effort', 'touch.left', 'touch.right'];
export const CLOCK_FIELDS = ['clock'];
/**
 * Contacts in the last control period: count, and peak normal forces (N) between the robot and
 * the static world (table), the object and the static world, and the robot and the object.
 */
export const CONTACT_FIELDS = ['count', 'robot_static_force', 'object_static_force', 'robot_object_force'];
/**
 * Per control period, what the safety envelope did: joint targets clamped at position limits and
 * at velocity limits, the measured tool point outside the workspace (0/1), targets whose
 * acceleration was limited, and the command rejected (0/1: the robot held its last target).
 */
export const SAFETY_FIELDS = ['position_clamps', 'velocity_clamps', 'workspace_violation', 'acceleration_clamps', 'rejected'];
