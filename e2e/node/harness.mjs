// What every SDK script shares: `out` collects what each call returned,
// printed as one JSON object at the end (done) or with the first unexpected
// answer, which exits 1 (check, expectError, fail). The Go tests in
// e2e/node_test.go read that object.

export const out = {};

// check records a call's data and fails on an error.
export function check(name, result) {
  out[name] = result.data ?? null;
  if (result.error) {
    console.log(JSON.stringify({ failed: name, error: result.error, out }));
    process.exit(1);
  }
  return result.data;
}

// expectError records a call's error and fails when it succeeded.
export function expectError(name, result) {
  if (!result.error) {
    console.log(JSON.stringify({ failed: name, expected: 'an error', data: result.data, out }));
    process.exit(1);
  }
  out[name] = result.error;
}

// fail stops the script, naming what did not hold.
export function fail(what) {
  console.log(JSON.stringify({ failed: what, out }));
  process.exit(1);
}
