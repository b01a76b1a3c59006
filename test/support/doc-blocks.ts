/**
 * The fence convention of the docs whose examples are run by tests: a block opened by ```` ```sh test ````
 * is a step (run in order, in one shell); a ```` ```text output ```` block right after a step is what that
 * step must print. Other blocks (```` ```sh ````, ```` ```yaml ````) are shown only.
 */
export interface DocStep {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly script: string;
  /** What the step must print (stdout), when an output block follows it. */
  readonly output?: string;
}

export interface DocBlocks {
  readonly steps: DocStep[];
  /** Problems with the document's fences, each naming the line (an indented step cannot be pasted as is). */
  readonly problems: string[];
}

export function docSteps(markdown: string): DocBlocks {
  const lines = markdown.split('\n');
  const steps: DocStep[] = [];
  const problems: string[] = [];
  let previousWasStep = false;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!fence) {
      if (lines[i]!.trim() !== '') previousWasStep = false;
      continue;
    }
    const [, indent, language, info] = fence;
    const words = info!.split(/\s+/).filter(Boolean);
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) problems.push(`line ${start + 1}: fence never closed`);
    const isStep = language === 'sh' && words.includes('test');
    const isOutput = language === 'text' && words.includes('output');
    if ((isStep || isOutput) && indent !== '') problems.push(`line ${start + 1}: a ${isStep ? 'step' : 'output'} block must not be indented`);
    if (isStep) {
      steps.push({ line: start + 1, script: body.join('\n') });
      previousWasStep = true;
      continue;
    }
    if (isOutput) {
      const step = steps.at(-1);
      if (!previousWasStep || step === undefined || step.output !== undefined) problems.push(`line ${start + 1}: an output block must follow a step`);
      else steps[steps.length - 1] = { ...step, output: body.join('\n') };
    }
    previousWasStep = false;
  }
  return { steps, problems };
}
