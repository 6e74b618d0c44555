package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// Alpaca's error codes: HTTP status × 100000 plus a subcode, except
// validation, which is 40010001 on a 422.
const (
	codeBadRequest    = 40010000
	codeValidation    = 40010001
	codeUnauthorized  = 40110000
	codeForbidden     = 40310000
	codeNotFound      = 40410000
	codeUnprocessable = 42210000
	codeRateLimited   = 42910000
	codeInternal      = 50010000
)

// maxBody bounds every request body: an order is a few hundred bytes, and a
// client that sends megabytes is broken or hostile.
const maxBody = 64 << 10

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON encodes v into a pooled buffer first so that an encoding error
// can still become a clean 500 and the response carries Content-Length.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "internal server error occurred", nil)
		return
	}
	writeRaw(w, status, buf.Bytes())
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes Alpaca's {"code","message"} body plus any extra context
// fields Alpaca adds (buying_power, existing_qty, ...).
func writeError(w http.ResponseWriter, status, code int, msg string, fields map[string]string) {
	body := make(map[string]any, 2+len(fields))
	for k, v := range fields {
		body[k] = v
	}
	if code != 0 {
		body["code"] = code
	}
	body["message"] = msg
	b, _ := json.Marshal(body)
	writeRaw(w, status, append(b, '\n'))
}

func badRequest(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, codeBadRequest, msg, nil)
}

func invalid(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusUnprocessableEntity, codeValidation, msg, nil)
}

func notFound(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusNotFound, codeNotFound, msg, nil)
}

// decodeBody reads a JSON request body: bounded size, one value, every
// known field of the right type. Unknown fields are ignored, as Alpaca
// ignores them: community clients send extras (an order_id in a replace,
// a watchlist's uuid) and must not fail here when they work there.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	return readBody(w, r, func(b []byte) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(v); err != nil {
			return err
		}
		if _, err := dec.Token(); err != io.EOF {
			return errTrailingData
		}
		return nil
	})
}

// readBody reads the bounded body into a pooled buffer and decodes it with
// decode, answering 413 or 400 itself when either fails.
func readBody(w http.ResponseWriter, r *http.Request, decode func([]byte) error) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, 41310000, fmt.Sprintf("request body is larger than %d bytes", maxBody), nil)
			return false
		}
		badRequest(w, "request body could not be read")
		return false
	}
	if err := decode(buf.Bytes()); err != nil {
		badRequest(w, "request body format is invalid: "+jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem turns a decoder error into a short message that names the
// field, without echoing arbitrary input back.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q has the wrong type", te.Field)
		}
		return "wrong JSON type"
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, errTrailingData):
		return err.Error()
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

var orderBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}
