import { Option, type ParseResult, SchemaAST } from 'effect';

export interface IssueProblem {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * Turns a Schema parse issue into short messages for people, one per field. Schema's own
 * formatters print the rejected input (a 101-element array, or a nesting deep enough to overflow
 * the stack while printing it) and list every member of a union apart, `undefined` included;
 * these messages say what is expected and never repeat what was sent.
 */
export function problemsOf(issue: ParseResult.ParseIssue, path: readonly PropertyKey[] = []): IssueProblem[] {
  const annotated = annotatedMessage(issue);
  if (annotated !== undefined) return [{ path, message: annotated }];
  switch (issue._tag) {
    case 'Pointer':
      return problemsOf(issue.issue, [...path, ...(Array.isArray(issue.path) ? issue.path : [issue.path])]);
    case 'Missing':
      return [{ path, message: 'is required' }];
    case 'Unexpected':
      return [{ path, message: 'is not a field here' }];
    case 'Forbidden':
      return [{ path, message: 'could not be checked' }];
    case 'Type':
      return [{ path, message: issue.message ?? `must be ${expected(issue.ast)}` }];
    case 'Refinement':
      if (issue.kind === 'From') return problemsOf(issue.issue, path);
      return [{ path, message: messageOfType(issue.issue) ?? `must be ${expected(issue.ast)}` }];
    case 'Transformation':
      // A failed conversion (text to number, to date) says what it wanted, not what it got.
      if (issue.kind === 'Transformation') return [{ path, message: `must be ${expected(issue.ast.to)}` }];
      return problemsOf(issue.issue, path);
    case 'Composite':
      return compositeProblems(issue, path);
  }
}

function compositeProblems(issue: ParseResult.Composite, path: readonly PropertyKey[]): IssueProblem[] {
  const issues = Array.isArray(issue.issues) ? (issue.issues as ParseResult.ParseIssue[]) : [issue.issues as ParseResult.ParseIssue];
  if (issue.ast._tag !== 'Union') {
    const fields = issue.ast._tag === 'TypeLiteral' ? issue.ast.propertySignatures.map((p) => String(p.name)) : [];
    return issues.flatMap((inner) =>
      inner._tag === 'Pointer' && inner.issue._tag === 'Unexpected' && fields.length > 0
        ? [{ path: [...path, ...[inner.path].flat()], message: `is not a field here; the fields are ${listOf(fields, 'and')}` }]
        : problemsOf(inner, path),
    );
  }
  // `optional` makes every optional field a union with undefined: never worth mentioning.
  const members = issues.filter((member) => !(member._tag === 'Type' && member.ast._tag === 'UndefinedKeyword'));
  const expectations = members.flatMap((member) => ('ast' in member && member._tag !== 'Missing' ? [expected(member.ast)] : []));
  // A member whose outer type matched (a list, where a string or a list was allowed) explains best.
  const closer = members.filter((member) => !isTypeMismatch(member));
  if (closer.length > 0) return closer.flatMap((member) => problemsOf(member, path));
  return [{ path, message: `must be ${listOf(expectations, 'or')}` }];
}

function isTypeMismatch(issue: ParseResult.ParseIssue): boolean {
  if (issue._tag === 'Type') return issue.message === undefined;
  if (issue._tag === 'Refinement') return issue.kind === 'From' && isTypeMismatch(issue.issue);
  if (issue._tag === 'Transformation') return issue.kind === 'Encoded' && isTypeMismatch(issue.issue);
  return false;
}

/** A `message` annotation speaks for its schema, except when the failure lies inside what a refinement refines. */
function annotatedMessage(issue: ParseResult.ParseIssue): string | undefined {
  if (!('ast' in issue) || issue._tag === 'Missing' || (issue._tag === 'Refinement' && issue.kind === 'From')) return undefined;
  const annotation = Option.getOrUndefined(SchemaAST.getMessageAnnotation(issue.ast));
  const message = annotation?.(issue);
  if (typeof message === 'string') return message;
  return message !== undefined && 'message' in message && typeof message.message === 'string' ? message.message : undefined;
}

function messageOfType(issue: ParseResult.ParseIssue): string | undefined {
  return issue._tag === 'Type' ? issue.message : undefined;
}

function expected(ast: SchemaAST.AST): string {
  const description = Option.getOrUndefined(SchemaAST.getDescriptionAnnotation(ast));
  switch (ast._tag) {
    case 'Literal':
      return JSON.stringify(ast.literal);
    case 'TypeLiteral':
      return 'an object';
    case 'TupleType':
      return 'a list';
    case 'Union':
      return listOf(ast.types.filter((type) => type._tag !== 'UndefinedKeyword').map(expected), 'or');
    case 'Refinement':
      return description ?? expected(ast.from);
    case 'Transformation':
      return expected(ast.to);
    default:
      return description ?? String(ast);
  }
}

function listOf(items: readonly string[], conjunction: 'and' | 'or'): string {
  const unique = [...new Set(items)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} ${conjunction} ${unique.at(-1)}`;
}
