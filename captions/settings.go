package captions

import (
	"slices"
	"strconv"
	"strings"
)

// cueSettings checks a timing line's settings (what follows the end time)
// and returns them normalised: one space between them, in their order.
// Each may appear once; unknown ones are errors, not ignored as the WebVTT
// parser would, so a typo does not silently misplace a cue.
func cueSettings(s string, line int, regions []Region) (string, error) {
	fields := strings.Fields(s)
	seen := map[string]bool{}
	for _, f := range fields {
		name, value, ok := strings.Cut(f, ":")
		if !ok || name == "" || value == "" {
			return "", errorf(line, "cue setting %s must read name:value", quoteShort(f))
		}
		if seen[name] {
			return "", errorf(line, "the cue setting %s is given twice", name)
		}
		seen[name] = true
		var valid bool
		switch name {
		case "vertical":
			valid = value == "rl" || value == "lr"
		case "line":
			pos, align, _ := strings.Cut(value, ",")
			valid = (isPercentage(pos) || isInteger(pos)) && (align == "" && !strings.Contains(value, ",") || slices.Contains([]string{"start", "center", "end"}, align))
		case "position":
			pos, align, _ := strings.Cut(value, ",")
			valid = isPercentage(pos) && (align == "" && !strings.Contains(value, ",") || slices.Contains([]string{"line-left", "center", "line-right"}, align))
		case "size":
			valid = isPercentage(value)
		case "align":
			valid = slices.Contains([]string{"start", "center", "end", "left", "right"}, value)
		case "region":
			if !slices.ContainsFunc(regions, func(r Region) bool { return r.ID == value }) {
				return "", errorf(line, "the cue names region %s, which no REGION block defines", quoteShort(value))
			}
			valid = true
		default:
			return "", errorf(line, "unknown cue setting %s; WebVTT has vertical, line, position, size, align and region", quoteShort(name))
		}
		if !valid {
			return "", errorf(line, "%s is not a valid value for the cue setting %s%s", quoteShort(value), name, settingHint[name])
		}
	}
	return strings.Join(fields, " "), nil
}

var settingHint = map[string]string{
	"vertical": " (rl or lr)",
	"line":     " (a line number or a percentage, optionally followed by ,start ,center or ,end)",
	"position": " (a percentage, optionally followed by ,line-left ,center or ,line-right)",
	"size":     " (a percentage)",
	"align":    " (start, center, end, left or right)",
}

// region checks a REGION block and adds it to the track.
func (p *parser) region(b block) error {
	var r Region
	seen := map[string]bool{}
	var out []string
	for i, l := range b.lines[1:] {
		n := b.line(i + 1)
		for _, f := range strings.Fields(l) {
			name, value, ok := strings.Cut(f, ":")
			if !ok || name == "" || value == "" {
				return errorf(n, "region setting %s must read name:value", quoteShort(f))
			}
			if seen[name] {
				return errorf(n, "the region setting %s is given twice", name)
			}
			seen[name] = true
			var valid bool
			switch name {
			case "id":
				valid = !strings.Contains(value, arrow)
				r.ID = value
			case "width":
				valid = isPercentage(value)
			case "lines":
				valid = isInteger(value) && value[0] != '-'
			case "regionanchor", "viewportanchor":
				x, y, ok := strings.Cut(value, ",")
				valid = ok && isPercentage(x) && isPercentage(y)
			case "scroll":
				valid = value == "up"
			default:
				return errorf(n, "unknown region setting %s; WebVTT has id, width, lines, regionanchor, viewportanchor and scroll", quoteShort(name))
			}
			if !valid {
				return errorf(n, "%s is not a valid value for the region setting %s", quoteShort(value), name)
			}
			out = append(out, f)
		}
	}
	if r.ID == "" {
		return errorf(b.first, "a REGION needs an id (id:name)")
	}
	if slices.ContainsFunc(p.track.Regions, func(o Region) bool { return o.ID == r.ID }) {
		return errorf(b.first, "a region with the id %s is already defined", quoteShort(r.ID))
	}
	r.Settings = strings.Join(out, " ")
	p.track.Regions = append(p.track.Regions, r)
	return nil
}

// isPercentage is WebVTT's percentage: digits, optionally a fraction, and
// "%", between 0 and 100.
func isPercentage(s string) bool {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return false
	}
	whole, frac, hasFrac := strings.Cut(num, ".")
	if !allDigits(whole) || (hasFrac && !allDigits(frac)) {
		return false
	}
	v, err := strconv.ParseFloat(num, 64)
	return err == nil && v >= 0 && v <= 100
}

// isInteger is a WebVTT line number: digits, optionally after a "-".
func isInteger(s string) bool {
	return allDigits(strings.TrimPrefix(s, "-"))
}

// allDigits: 1 to 9 ASCII digits, so the value fits any int.
func allDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
