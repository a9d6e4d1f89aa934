import { expect, test } from 'vitest';
import { renderTable } from '../../src/formats/table.js';

test('a table stays one record a line: a cell written over two lines shows its line break as an escape', () => {
  const lines = renderTable(['ID', 'DESCRIPTION'], [['a', 'first line\nsecond line'], ['bb', 'one']]);
  expect(lines).toEqual(['ID  DESCRIPTION', 'a   first line\\u000Asecond line', 'bb  one']);
});
