package hks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// The function contract of ../node/lib/contract.js: what a handler receives and how its result becomes a response.

var (
	textType   = regexp.MustCompile(`(?i)^\s*(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|graphql|yaml|x-yaml|x-ndjson|ld\+json)\b)`)
	binaryType = regexp.MustCompile(`(?i)^\s*((image|audio|video|font)/|application/(octet-stream|pdf|zip|gzip|x-tar|wasm|x-protobuf|protobuf|msgpack|x-msgpack)\b)`)
	jsonType   = regexp.MustCompile(`(?i)^\s*application/([\w.+-]*\+)?json\b`)
	hopByHop   = map[string]bool{"connection": true, "keep-alive": true, "transfer-encoding": true, "content-length": true, "upgrade": true, "trailer": true, "te": true, "proxy-connection": true}
)

func bodyIsText(contentType string, body []byte) bool {
	if len(body) == 0 {
		return true
	}
	if contentType != "" {
		if textType.MatchString(contentType) {
			return true
		}
		if binaryType.MatchString(contentType) {
			return false
		}
	}
	return utf8.Valid(body)
}

// input is what an invocation brings: HTTP style (a request) or data style (a JSON value).
type input struct {
	request Request
	// data: the JSON a data-style handler decodes (the data, or for an HTTP request its JSON body / query).
	data json.RawMessage
}

var httpKeys = map[string]bool{"method": true, "path": true, "query": true, "headers": true, "body": true, "isBase64Encoded": true}

// decodeInput turns the invoker's input (contract.js httpInput or dataInput) into an input. An object with the
// fields of an HTTP request (method, path, headers, body, isBase64Encoded) is one; anything else is data.
func decodeInput(raw json.RawMessage) (input, error) {
	var obj map[string]json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) && json.Unmarshal(raw, &obj) == nil && isHTTPShape(obj) {
		return httpStyleInput(obj)
	}
	return dataStyleInput(raw), nil
}

func isHTTPShape(obj map[string]json.RawMessage) bool {
	for _, k := range []string{"method", "path", "headers", "body", "isBase64Encoded"} {
		if _, ok := obj[k]; !ok {
			return false
		}
	}
	return true
}

func stringOrList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}

func httpStyleInput(obj map[string]json.RawMessage) (input, error) {
	var r Request
	var body string
	if err := json.Unmarshal(obj["method"], &r.Method); err != nil {
		return input{}, fmt.Errorf("request method: %w", err)
	}
	_ = json.Unmarshal(obj["path"], &r.Path)
	_ = json.Unmarshal(obj["body"], &body)
	_ = json.Unmarshal(obj["isBase64Encoded"], &r.IsBase64Encoded)
	r.Query = url.Values{}
	var q map[string]json.RawMessage
	_ = json.Unmarshal(obj["query"], &q)
	for k, v := range q {
		r.Query[k] = stringOrList(v)
	}
	r.Headers = http.Header{}
	var h map[string]json.RawMessage
	_ = json.Unmarshal(obj["headers"], &h)
	for k, v := range h {
		for _, s := range stringOrList(v) {
			r.Headers.Add(k, s)
		}
	}
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return input{}, fmt.Errorf("request body: %w", err)
		}
		r.Body = b
	} else {
		r.Body = []byte(body)
	}
	r.fields = map[string]json.RawMessage{}
	for k, v := range obj {
		if !httpKeys[k] {
			r.fields[k] = v
		}
	}
	in := input{request: r}
	switch {
	case len(r.Body) > 0 && !r.IsBase64Encoded && json.Valid(r.Body):
		in.data = r.Body
	case len(r.Body) > 0:
		in.data, _ = json.Marshal(body)
	default:
		in.data, _ = json.Marshal(flatQuery(r.Query))
	}
	return in, nil
}

func flatQuery(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, v := range q {
		if len(v) == 1 {
			out[k] = v[0]
		} else {
			out[k] = v
		}
	}
	return out
}

func dataStyleInput(raw json.RawMessage) input {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("null")
	}
	r := Request{Method: "POST", Path: "/", Query: url.Values{}, Headers: http.Header{"Content-Type": {"application/json"}}, Body: raw, Data: raw}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) == nil {
		r.fields = fields
	}
	return input{request: r, data: raw}
}

// fromHTTP builds the input of a request the http mode received, as the invoker builds it (contract.js).
func fromHTTP(req *http.Request, body []byte, dataStyle bool) (input, error) {
	contentType := req.Header.Get("Content-Type")
	if dataStyle {
		if len(body) == 0 {
			b, _ := json.Marshal(flatQuery(req.URL.Query()))
			return dataStyleInput(b), nil
		}
		if !bodyIsText(contentType, body) {
			b, _ := json.Marshal(base64.StdEncoding.EncodeToString(body))
			return dataStyleInput(b), nil
		}
		isJSON := jsonType.MatchString(contentType)
		if isJSON || contentType == "" {
			var v any
			if err := json.Unmarshal(body, &v); err == nil {
				if m, ok := v.(map[string]any); ok {
					if d, ok := m["data"]; ok {
						b, _ := json.Marshal(d)
						return dataStyleInput(b), nil
					}
				}
				return dataStyleInput(body), nil
			} else if isJSON {
				return input{}, fmt.Errorf(`the request body is not valid JSON (%v); send {"data": ...} or drop the JSON content type`, err)
			}
		}
		b, _ := json.Marshal(string(body))
		return dataStyleInput(b), nil
	}
	text := bodyIsText(contentType, body)
	obj := map[string]any{"method": req.Method, "path": req.URL.Path, "isBase64Encoded": !text}
	if obj["path"] == "" {
		obj["path"] = "/"
	}
	obj["query"] = flatQuery(req.URL.Query())
	headers := map[string]any{}
	for k, v := range req.Header {
		if len(v) == 1 {
			headers[strings.ToLower(k)] = v[0]
		} else {
			headers[strings.ToLower(k)] = v
		}
	}
	obj["headers"] = headers
	if text {
		obj["body"] = string(body)
	} else {
		obj["body"] = base64.StdEncoding.EncodeToString(body)
	}
	encoded, _ := json.Marshal(obj)
	var parsed map[string]json.RawMessage
	_ = json.Unmarshal(encoded, &parsed)
	if text && len(body) > 0 && (jsonType.MatchString(contentType) || (contentType == "" && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")))) {
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) == nil {
			for k, v := range fields {
				if _, taken := parsed[k]; !taken {
					parsed[k] = v
				}
			}
		}
	}
	return httpStyleInput(parsed)
}

// response is what goes back: an HTTP response, `json` when its body is the JSON of a plain value.
type response struct {
	status  int
	headers map[string][]string
	body    []byte
	json    bool
}

// ContractError: the handler's result cannot be turned into a response.
type ContractError struct{ msg string }

func (e *ContractError) Error() string { return e.msg }

func fromResponse(r Response) response {
	out := response{status: r.StatusCode, headers: map[string][]string{}, body: r.Body}
	if out.status == 0 {
		out.status = http.StatusOK
	}
	for k, v := range r.Headers {
		if lk := strings.ToLower(k); !hopByHop[lk] {
			out.headers[lk] = []string{v}
		}
	}
	for k, v := range r.MultiValueHeaders {
		if lk := strings.ToLower(k); !hopByHop[lk] {
			out.headers[lk] = append([]string(nil), v...)
		}
	}
	if _, ok := out.headers["content-type"]; !ok && len(out.body) > 0 {
		if utf8.Valid(out.body) {
			out.headers["content-type"] = []string{"text/plain; charset=utf-8"}
		} else {
			out.headers["content-type"] = []string{"application/octet-stream"}
		}
	}
	if out.body == nil {
		out.body = []byte{}
	}
	return out
}

func fromValue(v any) (response, error) {
	if b, ok := v.([]byte); ok {
		return response{status: 200, headers: map[string][]string{"content-type": {"application/octet-stream"}}, body: b}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return response{}, &ContractError{fmt.Sprintf("the handler's return value cannot be turned into JSON: %v", err)}
	}
	return response{status: 200, headers: map[string][]string{"content-type": {"application/json"}}, body: b, json: true}, nil
}
