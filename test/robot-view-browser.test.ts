/**
 * `arbor view --model robots/ur5e/robot.yaml` in headless Chromium (see ./browser.ts): the robot
 * composed at load (the arm, its separate gripper, the added tool point) is drawn on its stage,
 * and the pixels where its links stand are the robot's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { startViewer, type ViewerServer } from '../src/viewer/server.ts';
import { launchChromium, type TestBrowser } from './browser.ts';

const UR5E = ['base', 'shoulder_link', 'upper_arm_link', 'forearm_link', 'wrist_1_link', 'wrist_2_link', 'wrist_3_link', '2f85_base', '2f85_left_finger', '2f85_right_finger'];

let viewer: ViewerServer;
let browser: TestBrowser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  viewer = await startViewer({ port: 0, model: 'robots/ur5e/robot.yaml', watchRelays: false });
  browser = await launchChromium({ width: 800, height: 600 });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(viewer.url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
  await page.evaluate(() => window.arbor.lockScale(1));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
});

describe('arbor view --model ROBOT.yaml', () => {
  it('draws the composed UR5e with its gripper', async () => {
    expect((await page.evaluate(() => window.arbor.status())).mode).toBe('model');
    // The stage's world body, the arm's 8 bodies (tool0 included) and the gripper's 3.
    expect(await page.locator('#info').textContent()).toMatch(/^model ur5e · 12 bodies/);
    const box = (await page.locator('#canvas').boundingBox())!;
    const [width, height] = [Math.floor(box.width), Math.floor(box.height)];
    const read = async () => new Uint8Array(Buffer.from(await page.evaluate(([w, h]) => window.arbor.readPixels(0, 0, w, h), [width, height] as const), 'base64'));
    const shown = await read();
    await page.evaluate((names) => window.arbor.setBodiesVisible(names, false), UR5E);
    const hidden = await read();
    await page.evaluate((names) => window.arbor.setBodiesVisible(names, true), UR5E);
    for (const body of ['upper_arm_link', 'forearm_link', '2f85_base']) {
      const at = (await page.evaluate((name) => window.arbor.project(name), body))!;
      expect(at.x, body).toBeGreaterThan(0);
      expect(at.x, body).toBeLessThan(width);
      expect(at.y, body).toBeGreaterThan(0);
      expect(at.y, body).toBeLessThan(height);
      // Around where the link stands, hiding the robot changes the picture.
      let differ = 0;
      let n = 0;
      for (let y = Math.round(at.y) - 2; y <= Math.round(at.y) + 2; y++) {
        for (let x = Math.round(at.x) - 2; x <= Math.round(at.x) + 2; x++) {
          const i = 4 * ((height - 1 - y) * width + x);
          n++;
          if (Math.abs(shown[i] - hidden[i]) + Math.abs(shown[i + 1] - hidden[i + 1]) + Math.abs(shown[i + 2] - hidden[i + 2]) > 30) differ++;
        }
      }
      expect(differ / n, body).toBeGreaterThan(0.5);
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
