// npm links the bins of a project's dependencies into node_modules/.bin, but not the
// project's own. Linking `gavel` there after the build makes `npx gavel` (and `gavel`
// inside npm scripts) run this checkout instead of looking for a package on the registry.
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binDir = join(root, 'node_modules', '.bin');
const target = join(root, 'bin', 'gavel.js');
mkdirSync(binDir, { recursive: true });
const link = join(binDir, 'gavel');
rmSync(link, { force: true });
symlinkSync(relative(binDir, target), link);
chmodSync(target, 0o755);
