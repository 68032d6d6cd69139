import { useEffect, useRef } from 'react';
import { basicSetup } from 'codemirror';
import { Compartment, EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { go } from '@codemirror/lang-go';
import { java } from '@codemirror/lang-java';
import { json } from '@codemirror/lang-json';

/** The nonce the gateway gave this page for <style> elements (its Content-Security-Policy allows no other inline style). */
const styleNonce = document.querySelector<HTMLMetaElement>('meta[name="hks-style-nonce"]')?.content ?? '';

/** The CodeMirror language of a runtime name (nodejs20, python3.11, go, java21 ...) or 'json'. */
function languageOf(lang: string) {
  const l = lang.toLowerCase();
  if (l === 'json') return json();
  if (l.startsWith('python')) return python();
  if (l.startsWith('go')) return go();
  if (l.startsWith('java')) return java();
  if (l.startsWith('typescript') || l === 'ts' || l.startsWith('deno') || l.startsWith('bun')) return javascript({ typescript: true });
  return javascript();
}

interface Props {
  value: string;
  onChange: (value: string) => void;
  language: string;
  /** The accessible name of the editor (it has no visible <label> of its own). */
  label: string;
  id?: string;
  minHeight?: string;
}

/**
 * CodeMirror 6 with the runtime's highlighting. Tab indents; Escape then Tab moves focus on (CodeMirror's own
 * way out of a tab-trapping editor), which the hint under the editor says.
 */
export function CodeEditor({ value, onChange, language, label, id, minHeight = '16rem' }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const lang = useRef(new Compartment());
  const changed = useRef(onChange);
  changed.current = onChange;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          EditorView.cspNonce.of(styleNonce),
          basicSetup,
          keymap.of([indentWithTab]),
          lang.current.of(languageOf(language)),
          EditorView.contentAttributes.of({ 'aria-label': label, ...(id ? { id } : {}) }),
          EditorView.theme({ '&': { minHeight }, '.cm-scroller': { minHeight } }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) changed.current(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // The editor is made once; value and language changes are applied below.
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: lang.current.reconfigure(languageOf(language)) });
  }, [language]);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  return (
    <div className="editor-wrap">
      <div ref={host} className="editor" data-testid={id ? `${id}-editor` : undefined} />
      <p className="hint">Tab indents; press Escape, then Tab, to leave the editor.</p>
    </div>
  );
}
