package deploy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// jsonSchema is the subset of JSON Schema (draft-07) that @cloudbase/cli's cloudbaserc schema
// uses for functions.
type jsonSchema struct {
	Type       string                 `json:"type"`
	Properties map[string]*jsonSchema `json:"properties"`
	Required   []string               `json:"required"`
	Enum       []any                  `json:"enum"`
	Items      *jsonSchema            `json:"items"`
	Ref        string                 `json:"$ref"`
	Pattern    string                 `json:"pattern"`
	Minimum    *float64               `json:"minimum"`
	Maximum    *float64               `json:"maximum"`
}

// CloudBaseSchema returns the schema of cloudbaserc.json: the published one (b, the content
// of testdata/cloudbase-cli/cloudbaserc.schema.json) with `functions` items typed as its
// ICloudFunction definition, completed by cloudbaseSupplement.
func CloudBaseSchema(b []byte) (*Node, error) {
	var doc struct {
		Properties  map[string]json.RawMessage `json:"properties"`
		Definitions map[string]*jsonSchema     `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parse cloudbaserc schema: %w", err)
	}
	fn, ok := doc.Definitions["ICloudFunction"]
	if !ok {
		return nil, fmt.Errorf("cloudbaserc schema has no ICloudFunction definition")
	}
	top := &Node{Type: "object", Keys: map[string]*Node{}}
	for k, raw := range doc.Properties {
		var s jsonSchema
		// The published schema has "additionalProperties": false inside properties, a
		// misplaced keyword rather than a key of the file; it decodes as a bool and is skipped.
		if json.Unmarshal(raw, &s) != nil || (s.Type == "" && s.Ref == "") {
			continue
		}
		n, err := fromJSONSchema(&s, doc.Definitions)
		if err != nil {
			return nil, fmt.Errorf("cloudbaserc schema %s: %w", k, err)
		}
		top.Keys[k] = n
	}
	fnNode, err := fromJSONSchema(fn, doc.Definitions)
	if err != nil {
		return nil, fmt.Errorf("cloudbaserc schema ICloudFunction: %w", err)
	}
	if top.Keys["functions"] == nil {
		return nil, fmt.Errorf("cloudbaserc schema has no functions property")
	}
	top.Keys["functions"].Items = fnNode
	top.Merge(cloudbaseSupplement)
	return top, nil
}

func fromJSONSchema(s *jsonSchema, defs map[string]*jsonSchema) (*Node, error) {
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/definitions/")
		d := defs[name]
		if !ok || d == nil {
			// Record<string,string> and Record<string,any> are plain objects.
			if strings.HasPrefix(name, "Record<") {
				return &Node{Type: "object"}, nil
			}
			return nil, fmt.Errorf("unresolved $ref %q", s.Ref)
		}
		return fromJSONSchema(d, defs)
	}
	n := &Node{Type: s.Type, Allow: s.Enum, Min: s.Minimum, Max: s.Maximum}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, err
		}
		n.Regex = re
	}
	if s.Properties != nil {
		n.Keys = map[string]*Node{}
		for k, p := range s.Properties {
			c, err := fromJSONSchema(p, defs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			n.Keys[k] = c
		}
		for _, r := range s.Required {
			if c, ok := n.Keys[r]; ok {
				c.Required = true
			}
		}
	}
	if s.Items != nil {
		c, err := fromJSONSchema(s.Items, defs)
		if err != nil {
			return nil, err
		}
		n.Items = c
	}
	return n, nil
}

// cloudbaseSupplement holds what `tcb fn deploy` reads but the schema leaves out, from
// @cloudbase/cli 2.12.10 dist/standalone/cli.js:
//   - the function service's create/update code reads memorySize (MemorySize, default 256),
//     not the schema's `memory`; the values CloudBase accepts are the schema's `memory` enum;
//   - the schema's timeout description says 1-60 s;
//   - createFunctionTriggers refuses any trigger type but "timer";
//   - role, layers and type (HTTP for HTTP functions) are read the same way.
var cloudbaseSupplement = mustNode(`
type: object
keys:
  envId: {type: string, required: true}
  functions:
    type: array
    items:
      - type: object
        keys:
          memorySize: {type: number, allow: [128, 256, 512, 1024, 2048]}
          timeout: {type: number, min: 1, max: 60}
          role: {type: string}
          type: {type: string, allow: [Event, HTTP]}
          layers:
            type: array
            items:
              - type: object
                keys:
                  name: {type: string, required: true}
                  version: {type: number, required: true}
          triggers:
            type: array
            items:
              - type: object
                keys:
                  type: {type: string, allow: [timer]}
`)

// mustacheRef matches a cloudbaserc template value such as "{{env.WX_APPID}}": the CLI
// renders it from .env, .env.local and the process environment before deploying.
var mustacheRef = regexp.MustCompile(`^\{\{(env|tcb|util)\.[A-Za-z_][A-Za-z0-9_.]*\}\}$`)

// CheckCloudBase validates a cloudbaserc.json against schema and the rules it cannot express:
// timer configs are 7-field crons, and no key is a near miss of a known one.
func CheckCloudBase(schema *Node, b []byte) []error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return []error{fmt.Errorf("parse cloudbaserc.json: %w", err)}
	}
	errs := schema.Validate("cloudbaserc", raw)
	fns, _ := raw["functions"].([]any)
	for i, f := range fns {
		fm, _ := f.(map[string]any)
		trs, _ := fm["triggers"].([]any)
		for j, tr := range trs {
			tm, _ := tr.(map[string]any)
			cfg, _ := tm["config"].(string)
			if err := CheckCron(cfg); err != nil {
				errs = append(errs, fmt.Errorf("cloudbaserc.functions[%d].triggers[%d].config: %w", i, j, err))
			}
		}
		vars, _ := fm["envVariables"].(map[string]any)
		for k, v := range vars {
			s, ok := v.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("cloudbaserc.functions[%d].envVariables.%s: want a string, got %T", i, k, v))
				continue
			}
			if strings.Contains(s, "{{") && !mustacheRef.MatchString(s) {
				errs = append(errs, fmt.Errorf("cloudbaserc.functions[%d].envVariables.%s: %q is not a whole \"{{env.NAME}}\" reference (the CLI only renders whole values)", i, k, s))
			}
		}
	}
	return errs
}
