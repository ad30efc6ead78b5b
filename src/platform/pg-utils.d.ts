/** pg's parameter encoding, which pg itself uses for every value it sends; pg's types do not declare it. */
declare module 'pg/lib/utils.js' {
  /** The text pg sends for a parameter: an array as an array literal, an object as JSON, null as null. */
  export function prepareValue(value: unknown): string | Buffer | null;
  const utils: { prepareValue: typeof prepareValue };
  export default utils;
}
