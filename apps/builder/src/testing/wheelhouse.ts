import { execFileSync } from 'child_process';
import * as path from 'path';

/*
 * Writes a pure-Python wheel with the standard library only: a wheel is a zip holding the package and a
 * dist-info folder (METADATA, WHEEL, RECORD with each file's urlsafe-base64 sha256).
 */
const MAKE_WHEEL = `
import base64, hashlib, json, sys, zipfile
out_dir, name, version, files = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
dist = name.replace('-', '_')
info = f"{dist}-{version}.dist-info"
entries = dict(files)
entries[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"
entries[f"{info}/WHEEL"] = "Wheel-Version: 1.0\\nGenerator: hks-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
record = []
for path, text in entries.items():
    data = text.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{info}/RECORD,,")
wheel = f"{out_dir}/{dist}-{version}-py3-none-any.whl"
with zipfile.ZipFile(wheel, "w") as z:
    for path, text in entries.items():
        z.writestr(path, text)
    z.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
print(wheel)
`;

/** Builds `<name>-<version>-py3-none-any.whl` in `dir` from {path: text}; returns the wheel's path. */
export function makeTestWheel(dir: string, name: string, version: string, files: Record<string, string>): string {
  const out = execFileSync('/usr/bin/python3', ['-I', '-c', MAKE_WHEEL, path.resolve(dir), name, version, JSON.stringify(files)], { encoding: 'utf8' });
  return out.trim();
}
