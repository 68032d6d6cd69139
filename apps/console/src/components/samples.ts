/** A first handler per runtime family, so a new function runs as soon as it is built. */
export function sampleHandler(runtime: string): string {
  const r = runtime.toLowerCase();
  if (r.startsWith('python')) return ['def handle(event):', '    name = (event or {}).get("name", "world")', '    return {"hello": name}', ''].join('\n');
  if (r.startsWith('go'))
    return [
      'package function',
      '',
      'func Handle(data map[string]any) (map[string]any, error) {',
      '\tname, _ := data["name"].(string)',
      '\tif name == "" {',
      '\t\tname = "world"',
      '\t}',
      '\treturn map[string]any{"hello": name}, nil',
      '}',
      '',
    ].join('\n');
  if (r.startsWith('java'))
    return [
      'import java.util.Map;',
      '',
      'public class Handler {',
      '  public Object handle(Map<String, Object> data) {',
      '    Object name = data == null ? null : data.get("name");',
      '    return Map.of("hello", name == null ? "world" : name);',
      '  }',
      '}',
      '',
    ].join('\n');
  if (r.startsWith('typescript'))
    return ['export default function (data: { name?: string }) {', "  return { hello: data?.name ?? 'world' };", '}', ''].join('\n');
  return ['module.exports = (data) => {', "  return { hello: (data && data.name) || 'world' };", '};', ''].join('\n');
}
