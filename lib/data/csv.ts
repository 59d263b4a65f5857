/**
 * A small RFC 4180 CSV reader (quoted fields, doubled quotes, CRLF), enough for the
 * numeric tables the `csv` and `iris` sources read. Blank lines are skipped.
 */
export function parseCsv(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const d = delimiter.charCodeAt(0);
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0].trim() === '')) rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (quoted) {
      if (c === 34) {
        if (text.charCodeAt(i + 1) === 34) {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += text[i++];
      continue;
    }
    if (c === 34 && field.trim() === '') {
      quoted = true;
      field = '';
      i++;
    } else if (c === d) {
      row.push(field);
      field = '';
      i++;
    } else if (c === 10 || c === 13) {
      endRow();
      i += c === 13 && text.charCodeAt(i + 1) === 10 ? 2 : 1;
    } else {
      field += text[i++];
    }
  }
  if (field !== '' || row.length > 0) endRow();
  return rows;
}
