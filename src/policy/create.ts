/** Builds a runnable policy from a resolved policy file: by kind, then (params) by the task's controller. */
import { CodePolicy, compileCode } from './code.ts';
import type { Policy, PolicyContext } from './policy.ts';
import type { PolicyFile } from './file.ts';
import { PromptPolicy } from './prompt.ts';

export function createPolicy(file: PolicyFile, context: PolicyContext): Policy {
  switch (file.kind) {
    case 'params': {
      const { scenario } = context;
      const task = scenario.taskDef;
      const family = task.controllers[scenario.policy.controller];
      const missing = Object.keys(family.params).filter((name) => !Object.hasOwn(file.params, name));
      if (missing.length) {
        throw new Error(
          `The ${scenario.policy.controller} controller needs parameters ${missing.join(', ')}; add them to scenario ${scenario.file} (policy.params).`,
        );
      }
      return family.create(context, file.params, scenario.task);
    }
    case 'code':
      return new CodePolicy(compileCode(file.source, file.language), context);
    case 'prompt':
      return new PromptPolicy(file.config, context);
  }
}
