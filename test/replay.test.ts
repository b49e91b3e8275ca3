import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { installRuntime } from '../workers/worker';

beforeAll(() => installRuntime());

const DIR = path.join(__dirname, 'histories');
const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe('workflow replay', () => {
  it('has exported histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it.each(files)('replays %s deterministically with the current workflow code', async (file) => {
    const { workflowId, history } = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
    const results = Worker.runReplayHistories(
      { workflowBundle: { codePath: process.env.TILLFLOW_TEST_WORKFLOW_BUNDLE! }, replayName: file },
      [{ workflowId, history: historyFromJSON(history) }],
    );
    for await (const result of results) {
      expect(result.error).toBeUndefined();
    }
  });
});
