import { affects as classify, type AffectsFilters } from '../../engine/affects.js';
import { formatDiagnostic } from '../../language/diagnostic.js';
import { parseFacts } from '../../language/partial/partial.js';
import { COMMON, flags, policiesDir } from '../args.js';
import { Exit, UsageError, writeLine, type CliIo } from '../io.js';
import { loadSet, printDiagnostics } from '../load.js';
import { renderAffectsCsv, renderAffectsTable } from '../../formats/render-affects.js';

export const affectsHelp = `Usage: gavel affects [--policies DIR] [--where FACT]... [--tag TAG]... [--owner OWNER]...
                     [--effect permit|forbid] [--all] [--json | --csv]

Which policies affect the requests that FACTs describe? Each FACT is a policy-language
expression that holds on every such request; the attributes no fact fixes stay unknown
(without any, every request: each policy applies or may apply):
  gavel affects --where 'resource.type == "patient_record"' --where 'subject.country != "US"'

Every policy is classified:
  applies         it decides every such request (a permit: unless evaluating it errors)
  may apply       it depends on what the facts leave unknown; the condition says on what
  does not apply  it decides none of them (listed with --all)

A FACT is PATH == value, PATH != value, PATH in [values], PATH like "glob", PATH contains
value, PATH < number (<=, >, >=), PATH has name, !(PATH has name), or facts joined with &&.

Exit codes: 0 listed, 1 the policies are invalid, 2 a bad fact or usage.

Options:
  -p, --policies DIR   policies folder (default ./policies)
  -w, --where FACT     a fact (repeatable)
      --tag TAG        only policies tagged TAG (repeatable: any of them)
      --owner OWNER    only policies owned by OWNER (repeatable: any of them)
      --effect EFFECT  only permits or only forbids
      --all            list the policies that do not apply too
      --json           the rows as JSON
      --csv            the rows as CSV
  -h, --help           show this help`;

export async function affects(argv: string[], io: CliIo): Promise<number> {
  const { values } = flags({ args: argv, strict: true, options: { ...COMMON,
    where: { type: 'string', short: 'w', multiple: true },
    tag: { type: 'string', multiple: true },
    owner: { type: 'string', multiple: true },
    effect: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    csv: { type: 'boolean' },
  } });
  if (values.help) return writeLine(io.stdout, affectsHelp), Exit.ok;
  if (values.json && values.csv) throw new UsageError('--json and --csv cannot be combined');
  const effect = values.effect;
  if (effect !== undefined && effect !== 'permit' && effect !== 'forbid') throw new UsageError(`--effect is \`permit\` or \`forbid\`, not \`${effect}\``);
  const result = await loadSet(policiesDir(io.cwd, values.policies));
  if (result.set === null) {
    printDiagnostics(io, result, values.policies ?? 'policies');
    return Exit.failed;
  }
  // Facts are checked against the policies' schema, like the policies' own conditions.
  const facts = parseFacts((values.where ?? []).map((text, i) => ({ file: `--where#${i + 1}`, text })), result.set.schema);
  if ('diagnostics' in facts) {
    for (const d of facts.diagnostics) writeLine(io.stderr, formatDiagnostic(d));
    return Exit.usage;
  }
  const filters: AffectsFilters = { tags: values.tag, owners: values.owner, effect, all: values.all ?? false };
  const rows = classify(result.set, facts.knowledge, filters);
  if (values.csv) {
    io.stdout.write(renderAffectsCsv(rows));
    return Exit.ok;
  }
  const lines = values.json ? [JSON.stringify(rows, null, 2)] : renderAffectsTable(rows);
  for (const line of lines) writeLine(io.stdout, line);
  return Exit.ok;
}
