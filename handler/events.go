package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// EventKind is the trigger an SCF event came from.
type EventKind string

// The event kinds Invoke recognises.
const (
	KindAPIGateway    EventKind = "apigw"
	KindFunctionURL   EventKind = "function-url"
	KindCloudBaseHTTP EventKind = "cloudbase-http"
	KindTimer         EventKind = "timer"
	KindCallFunction  EventKind = "callfunction"
	// KindHTTP is a request to ServeHTTP that did not come through Invoke.
	KindHTTP EventKind = "http"
)

// Event is a decoded SCF event. Exactly one of HTTP, Timer and Call is set, as Kind says.
type Event struct {
	Kind  EventKind
	HTTP  *HTTPEvent
	Timer *TimerEvent
	// Call is the caller's data of a wx.cloud.callFunction invocation, undecoded: it is the
	// same JSON as the body of POST /v1/idcard.
	Call json.RawMessage
}

// TimerEvent is a timer trigger's event.
type TimerEvent struct {
	Type        string `json:"Type"`
	TriggerName string `json:"TriggerName"`
	Time        string `json:"Time"`
	Message     string `json:"Message"`
}

// HTTPEvent is the common shape of API Gateway, Function URL and CloudBase HTTP access events.
type HTTPEvent struct {
	HTTPMethod            string          `json:"httpMethod"`
	Path                  string          `json:"path"`
	Headers               Values          `json:"headers"`
	QueryString           Values          `json:"queryString"`
	QueryStringParameters Values          `json:"queryStringParameters"`
	Body                  string          `json:"body"`
	IsBase64Encoded       flexBool        `json:"isBase64Encoded"`
	RequestContext        *RequestContext `json:"requestContext"`
}

// RequestContext is the requestContext of API Gateway and CloudBase HTTP access events.
// Identifiers are decoded from strings or numbers: CloudBase has sent appId and uin as both.
type RequestContext struct {
	ServiceID  flexString `json:"serviceId"`
	Path       flexString `json:"path"`
	HTTPMethod flexString `json:"httpMethod"`
	RequestID  flexString `json:"requestId"`
	SourceIP   flexString `json:"sourceIp"`
	Stage      flexString `json:"stage"`
	EnvID      flexString `json:"envId"`
	AppID      flexString `json:"appId"`
	Uin        flexString `json:"uin"`
}

// flexString decodes a string or a number (kept as its text); null is "".
type flexString string

func (f *flexString) UnmarshalJSON(data []byte) error {
	vals, err := decodeValue(data)
	if err != nil || len(vals) > 1 || (len(data) > 0 && (data[0] == 't' || data[0] == 'f' || data[0] == '[')) {
		return errors.New("must be a string or a number")
	}
	if len(vals) == 1 {
		*f = flexString(vals[0])
	} else {
		*f = ""
	}
	return nil
}

// DecodeError is an event that could not be decoded. Kind is the event kind the event
// looked like, so that a malformed HTTP event is still answered with an integration
// response.
type DecodeError struct {
	Kind EventKind
	Err  error
}

func (e *DecodeError) Error() string { return e.Err.Error() }

func (e *DecodeError) Unwrap() error { return e.Err }

// Values is a multi-valued string map decoded from the forms gateways send: a string, an
// array of strings, a bool (a bare "?flag" is true) or a number. null values are dropped.
type Values map[string][]string

// UnmarshalJSON decodes every value form; anything else (objects, nested arrays) is an error.
func (v *Values) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*v = nil
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	out := make(Values, len(m))
	for k, raw := range m {
		vals, err := decodeValue(raw)
		if err != nil {
			return fmt.Errorf("value of %q: %w", k, err)
		}
		if vals != nil {
			out[k] = vals
		}
	}
	*v = out
	return nil
}

// Get returns the first value of key, matched case-insensitively as HTTP header names are.
func (v Values) Get(key string) string {
	if vs, ok := v[key]; ok && len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range v {
		if strings.EqualFold(k, key) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

func decodeValue(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	switch raw[0] {
	case 'n':
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		if !b {
			return nil, nil
		}
		// API Gateway sends a bare "?flag" as true: present, no value.
		return []string{""}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			vs, err := decodeValue(it)
			if err != nil {
				return nil, err
			}
			if len(it) > 0 && it[0] == '[' {
				return nil, errors.New("nested array")
			}
			out = append(out, vs...)
		}
		return out, nil
	case '{':
		return nil, errors.New("object where a string was expected")
	default: // a number: keep its text
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		return []string{n.String()}, nil
	}
}

// flexBool decodes true/false and their string forms, which some gateways send.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	s := string(bytes.TrimSpace(data))
	if s == "null" {
		*b = false
		return nil
	}
	s = strings.Trim(s, `"`)
	if s == "" {
		*b = false
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("isBase64Encoded: %q is not a bool", s)
	}
	*b = flexBool(v)
	return nil
}

// probe holds the few fields that tell event kinds apart, as views of the event's text.
type probe struct {
	Type, TriggerName                         string
	HTTPMethod, Path, RequestContext, Headers []byte
}

// probeEvent validates the event and picks out the probe fields in one pass of the fast
// scanner (see decodeRequestJSON), so that a cloud call carrying a 2 MB image is not run
// through encoding/json's scanner once more. Keys match case-insensitively, the last
// duplicate wins, as in encoding/json; a probe field of another type is left empty.
func probeEvent(data []byte) (probe, error) {
	var p probe
	s := &scanner{data: data}
	err := s.object(func(key string) error {
		tok, err := s.value()
		if err != nil {
			return err
		}
		switch {
		case strings.EqualFold(key, "Type"):
			p.Type = ""
			_ = json.Unmarshal(tok, &p.Type)
		case strings.EqualFold(key, "TriggerName"):
			p.TriggerName = ""
			_ = json.Unmarshal(tok, &p.TriggerName)
		case strings.EqualFold(key, "httpMethod"):
			p.HTTPMethod = tok
		case strings.EqualFold(key, "path"):
			p.Path = tok
		case strings.EqualFold(key, "requestContext"):
			p.RequestContext = tok
		case strings.EqualFold(key, "headers"):
			p.Headers = tok
		}
		return nil
	})
	if err != nil {
		return p, err
	}
	s.ws()
	if s.pos != len(s.data) {
		return p, s.errorf("invalid character after the top-level value")
	}
	return p, nil
}

// errNotObject means an event that is valid JSON but not an object.
var errNotObject = errors.New("the event is not a JSON object")

// DecodeEvent recognises and decodes one SCF event. An HTTP event has string httpMethod and
// path and an object of headers; a timer has Type "Timer" and a TriggerName; anything else
// that is an object is a cloud call's data. cloudCall says the invocation context carries a
// Mini Program caller (WX_OPENID and friends), which rules out a timer: a caller cannot make
// its data pass for a timer event and trigger a token refresh.
func DecodeEvent(raw []byte, cloudCall bool) (*Event, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, &DecodeError{KindCallFunction, errors.New("the event is empty")}
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, &DecodeError{KindCallFunction, errors.New("the event is not valid JSON")}
		}
		return nil, &DecodeError{KindCallFunction, errNotObject}
	}
	p, err := probeEvent(trimmed)
	if err != nil {
		return nil, &DecodeError{KindCallFunction, errors.New("the event is not valid JSON")}
	}
	if !cloudCall && p.Type == "Timer" && p.TriggerName != "" {
		var t TimerEvent
		if err := json.Unmarshal(trimmed, &t); err != nil {
			return nil, &DecodeError{KindTimer, fmt.Errorf("decode timer event: %s", jsonErrorText(err))}
		}
		return &Event{Kind: KindTimer, Timer: &t}, nil
	}
	if isJSONString(p.HTTPMethod) && isJSONString(p.Path) && isJSONObject(p.Headers) {
		kind := KindFunctionURL
		if isJSONObject(p.RequestContext) {
			kind = KindAPIGateway
			var rc RequestContext
			if json.Unmarshal(p.RequestContext, &rc) == nil && rc.EnvID != "" && rc.ServiceID == "" {
				kind = KindCloudBaseHTTP
			}
		}
		var h HTTPEvent
		if err := json.Unmarshal(trimmed, &h); err != nil {
			return nil, &DecodeError{kind, fmt.Errorf("decode HTTP event: %s", jsonErrorText(err))}
		}
		if strings.TrimSpace(h.HTTPMethod) == "" {
			return nil, &DecodeError{kind, errors.New("decode HTTP event: httpMethod is empty")}
		}
		return &Event{Kind: kind, HTTP: &h}, nil
	}
	return &Event{Kind: KindCallFunction, Call: trimmed}, nil
}

func isJSONString(raw []byte) bool {
	return len(raw) > 0 && raw[0] == '"'
}

func isJSONObject(raw []byte) bool {
	return len(raw) > 0 && raw[0] == '{'
}
