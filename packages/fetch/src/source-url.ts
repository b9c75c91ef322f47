/** URLs of release files: pure string functions, shared by the engine's staging and the tests. */

export function isHttpUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * The URL of a file's bytes: the source base (an http(s) URL ending in '/', as resolveSourceBase
 * makes it) plus the manifest path with each segment percent-encoded, so that spaces, '#', '?',
 * '%' and non-ASCII names address exactly that file.
 */
export function fileUrlOf(sourceBase: string, relPath: string): string {
  return new URL(relPath.split('/').map(encodeURIComponent).join('/'), sourceBase).href;
}

/** `<url>.sig`: the path gets the suffix, a query string stays where it was. */
export function siblingUrl(url: string, suffix: string): string {
  const u = new URL(url);
  u.pathname += suffix;
  return u.href;
}
