// Package events holds the events that Tencent SCF and WeChat CloudBase hand a function, and
// the invocation context that comes with each, as plain structs in the manner of
// aws-lambda-go/events, with their decoding and the rule that tells their kinds apart.
//
// An event is decoded once: Decode fills an Event, or a caller's struct that inlines an Event
// next to the fields of its own cloud-call data, in one pass of a JSON decoder, and then says
// which kind of event it was from the fields the platforms document:
//
//   - timer: the invocation context says TRIGGER_SRC=timer (CloudBase), or the event is SCF's
//     timer event (Type "Timer" with a TriggerName). An invocation that carries a Mini
//     Program user (WX_OPENID, WX_UNIONID, WX_FROM_OPENID) is never a timer, whatever its data
//     looks like: a caller cannot make its data pass for a timer and trigger a token refresh.
//     A timer is recognised by these marks only, never by an invocation's lack of a caller.
//   - HTTP (API Gateway, Function URL, CloudBase HTTP access): a string httpMethod and an
//     object of headers; a requestContext makes it API Gateway, or CloudBase HTTP access when
//     that context has an envId and no serviceId.
//   - anything else that is a JSON object: a cloud call's data (wx.cloud.callFunction).
//
// Sources of the shapes (checked 2026-11; ../testdata/events/README.md lists them per payload):
// SCF's trigger event summary (cloud.tencent.com/document/product/583/31927: timer, API
// Gateway), the Function URL overview (583/96099), API Gateway's Base64 passing (628/51799),
// CloudBase's HTTP access integration request (876/41776), and for CloudBase timers
// wx-server-sdk's tests and @cloudbase/node-sdk, which read TRIGGER_SRC=timer from the
// invocation context.
package events

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Kind is the trigger an event came from.
type Kind string

// The kinds of event Decode recognises.
const (
	KindAPIGateway    Kind = "apigw"
	KindFunctionURL   Kind = "function-url"
	KindCloudBaseHTTP Kind = "cloudbase-http"
	KindTimer         Kind = "timer"
	KindCallFunction  Kind = "callfunction"
)

// IsHTTP reports whether events of kind k are HTTP requests answered with an HTTPResponse.
func (k Kind) IsHTTP() bool {
	return k == KindAPIGateway || k == KindFunctionURL || k == KindCloudBaseHTTP
}

// Timer is a timer trigger's event. SCF sends
// {"Type":"Timer","TriggerName":"…","Time":"2019-02-21T11:49:00Z","Message":"…"}; Message
// is the trigger's configured argument.
type Timer struct {
	Type        string `json:"Type"`
	TriggerName string `json:"TriggerName"`
	Time        string `json:"Time"`
	Message     string `json:"Message"`
}

// HTTPRequest is the common shape of API Gateway, Function URL and CloudBase HTTP access
// events. Function URL events have no requestContext and no isBase64Encoded.
type HTTPRequest struct {
	HTTPMethod            string          `json:"httpMethod"`
	Path                  string          `json:"path"`
	Headers               Values          `json:"headers"`
	QueryString           Values          `json:"queryString"`
	QueryStringParameters Values          `json:"queryStringParameters"`
	Body                  string          `json:"body"`
	IsBase64Encoded       Bool            `json:"isBase64Encoded"`
	RequestContext        *RequestContext `json:"requestContext"`
}

// RequestContext is the requestContext of API Gateway and CloudBase HTTP access events.
// Identifiers are decoded from strings or numbers: CloudBase has sent appId and uin as both.
type RequestContext struct {
	ServiceID  String `json:"serviceId"`
	Path       String `json:"path"`
	HTTPMethod String `json:"httpMethod"`
	RequestID  String `json:"requestId"`
	SourceIP   String `json:"sourceIp"`
	Stage      String `json:"stage"`
	EnvID      String `json:"envId"`
	AppID      String `json:"appId"`
	Uin        String `json:"uin"`
}

// HTTPResponse is the integration response that API Gateway, Function URLs and CloudBase
// HTTP access expect from an HTTP event.
type HTTPResponse struct {
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
}

// Event holds the fields of every kind of event, as one decode fills them; Kind says which
// of them apply. A caller that also wants a cloud call's data from the same pass inlines an
// Event in its own struct (`json:",inline"`) next to the data's fields and passes that to
// Decode.
type Event struct {
	Timer       `json:",inline"`
	HTTPRequest `json:",inline"`
}

// Envelope is an *Event or a pointer to a struct that embeds one.
type Envelope interface {
	event() *Event
}

func (e *Event) event() *Event { return e }

// Kind says what kind of event e is, given its invocation context (see the package doc).
func (e *Event) Kind(inv Invocation) Kind {
	// SCF's timer event: Type "Timer" and the trigger's name. HTTP events: API Gateway,
	// Function URLs and CloudBase HTTP access all send a method and headers.
	scfTimer := e.Type == "Timer" && e.TriggerName != ""
	http := e.HTTPMethod != "" && e.Headers != nil
	return kindOf(inv, scfTimer, http, e.RequestContext)
}

// kindOf is the rule of the package doc.
func kindOf(inv Invocation, scfTimer, http bool, rc *RequestContext) Kind {
	switch {
	case !inv.HasCaller() && (inv.IsTimer() || scfTimer):
		return KindTimer
	case !http:
		return KindCallFunction
	case rc == nil:
		return KindFunctionURL
	case rc.EnvID != "" && rc.ServiceID == "":
		return KindCloudBaseHTTP
	}
	return KindAPIGateway
}

// DecodeError is an event that could not be decoded. Kind is the kind the event looked like,
// so that a malformed HTTP event is still answered with an HTTPResponse.
type DecodeError struct {
	Kind Kind
	Err  error
}

func (e *DecodeError) Error() string { return e.Err.Error() }

func (e *DecodeError) Unwrap() error { return e.Err }

// ErrNotObject is an event that is not a JSON object (empty, an array, a string, null…).
var ErrNotObject = errors.New("the event is not a JSON object")

// Decode decodes raw into v in one pass and says what kind of event it is. opts go to the
// JSON decoder (for example unmarshalers for the caller's data fields). An HTTP event whose
// method is blank is malformed. Every error is a *DecodeError; one that came from an
// unmarshaler in opts is wrapped in it, so errors.As finds it.
func Decode(raw []byte, v Envelope, inv Invocation, opts ...json.Options) (Kind, error) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return KindCallFunction, &DecodeError{KindCallFunction, ErrNotObject}
	}
	if err := json.Unmarshal(raw, v, opts...); err != nil {
		return lookalike(raw, inv), &DecodeError{lookalike(raw, inv), err}
	}
	ev := v.event()
	kind := ev.Kind(inv)
	if kind.IsHTTP() && strings.TrimSpace(ev.HTTPMethod) == "" {
		return kind, &DecodeError{kind, errors.New("httpMethod is blank")}
	}
	return kind, nil
}

// lookalike is the kind a malformed event looks like, from a lenient second look at the
// fields that tell kinds apart (any JSON type is accepted there). It runs only for events
// that failed to decode; one that is not even JSON is taken for a cloud call.
func lookalike(raw []byte, inv Invocation) Kind {
	var look struct {
		Type           jsontext.Value `json:"Type"`
		TriggerName    jsontext.Value `json:"TriggerName"`
		HTTPMethod     jsontext.Value `json:"httpMethod"`
		Headers        jsontext.Value `json:"headers"`
		RequestContext jsontext.Value `json:"requestContext"`
	}
	if json.Unmarshal(raw, &look, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)) != nil {
		return KindCallFunction
	}
	scfTimer := string(look.Type) == `"Timer"` && look.TriggerName.Kind() == '"'
	http := look.HTTPMethod.Kind() == '"' && look.Headers.Kind() == '{'
	var rc *RequestContext
	if look.RequestContext.Kind() == '{' {
		rc = &RequestContext{}
		if json.Unmarshal(look.RequestContext, rc) != nil {
			rc = &RequestContext{ServiceID: "unreadable"} // an API Gateway context, at a guess
		}
	}
	return kindOf(inv, scfTimer, http, rc)
}

// Values is a multi-valued string map decoded from the forms gateways send: a string, an
// array of strings, a bool (API Gateway sends a bare "?flag" as true) or a number. null
// values and false are dropped.
type Values map[string][]string

// UnmarshalJSON decodes every value form; anything else (objects, nested arrays) is an error.
func (v *Values) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		*v = nil
		return nil
	}
	var m map[string]jsontext.Value
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

func decodeValue(raw jsontext.Value) ([]string, error) {
	switch raw.Kind() {
	case 'n', 'f':
		return nil, nil
	case 't':
		return []string{""}, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '0': // a number: its text
		return []string{string(bytes.TrimSpace(raw))}, nil
	case '[':
		var items []jsontext.Value
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			if it.Kind() == '[' {
				return nil, errors.New("nested array")
			}
			vs, err := decodeValue(it)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
		return out, nil
	}
	return nil, errors.New("object where a string was expected")
}

// String decodes a string or a number (kept as its text); null is "".
type String string

// UnmarshalJSON accepts a JSON string, number or null.
func (s *String) UnmarshalJSON(data []byte) error {
	v := jsontext.Value(data)
	switch v.Kind() {
	case 'n':
		*s = ""
		return nil
	case '0':
		*s = String(bytes.TrimSpace(data))
		return nil
	case '"':
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return err
		}
		*s = String(str)
		return nil
	}
	return errors.New("must be a string or a number")
}

// Bool decodes true and false and their string forms, which some gateways send; null is false.
type Bool bool

// UnmarshalJSON accepts a JSON bool, "true"/"false" (any form strconv.ParseBool takes) or null.
func (b *Bool) UnmarshalJSON(data []byte) error {
	v := jsontext.Value(data)
	switch v.Kind() {
	case 'n', 'f':
		*b = false
		return nil
	case 't':
		*b = true
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		if s == "" {
			*b = false
			return nil
		}
		p, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not a bool", s)
		}
		*b = Bool(p)
		return nil
	}
	return errors.New("must be a bool")
}
