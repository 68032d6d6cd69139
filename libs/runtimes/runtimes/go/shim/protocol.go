package hks

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// The worker protocol (see ../README.md): [u32 LE length of the rest][u8 type][u32 LE id][body].
const (
	frameLoad      = 1
	frameInvoke    = 2
	frameHello     = 10
	frameLoaded    = 11
	frameLoadError = 12
	frameResult    = 13
	frameError     = 14
	frameLog       = 15

	headerBytes = 9
	// maxInboundFrame: requests are capped at 100 MiB and travel as base64 inside JSON.
	maxInboundFrame = 160 << 20
)

type frame struct {
	typ  byte
	id   uint32
	body []byte
}

func encodeFrame(typ byte, id uint32, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, headerBytes, headerBytes+n)
	binary.LittleEndian.PutUint32(out[0:], uint32(n+5))
	out[4] = typ
	binary.LittleEndian.PutUint32(out[5:], id)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func encodeJSONFrame(typ byte, id uint32, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"name":"ProtocolError","message":%q}`, err.Error()))
	}
	return encodeFrame(typ, id, b)
}

type resultMeta struct {
	StatusCode int                 `json:"statusCode"`
	Headers    map[string][]string `json:"headers"`
	JSON       bool                `json:"json"`
}

func encodeResultFrame(id uint32, meta resultMeta, body []byte) []byte {
	headers := make(map[string]any, len(meta.Headers))
	for k, v := range meta.Headers {
		if len(v) == 1 {
			headers[k] = v[0]
		} else {
			headers[k] = v
		}
	}
	m, _ := json.Marshal(map[string]any{"statusCode": meta.StatusCode, "headers": headers, "json": meta.JSON})
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(m)))
	return encodeFrame(frameResult, id, l[:], m, body)
}

func encodeLogFrame(id uint32, stream byte, text []byte) []byte {
	return encodeFrame(frameLog, id, []byte{stream}, text)
}

// readFrame reads exactly one frame (never more: a process started in its place may read what follows).
func readFrame(r io.Reader) (frame, error) {
	var head [headerBytes]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return frame{}, err
	}
	length := binary.LittleEndian.Uint32(head[0:])
	if length < 5 {
		return frame{}, fmt.Errorf("frame of %d bytes is too short", length)
	}
	if length > maxInboundFrame {
		return frame{}, fmt.Errorf("frame of %d bytes exceeds the limit of %d bytes", length, maxInboundFrame)
	}
	body := make([]byte, length-5)
	if _, err := io.ReadFull(r, body); err != nil {
		return frame{}, err
	}
	return frame{typ: head[4], id: binary.LittleEndian.Uint32(head[5:]), body: body}, nil
}
