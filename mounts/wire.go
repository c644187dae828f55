package mounts

import "github.com/nspawn/nspawn/wire"

// AppendSteps writes steps to a record for the container's first process;
// the field order is the format.
func AppendSteps(w *wire.Writer, steps []Step) {
	w.Num(uint64(len(steps)))
	for _, m := range steps {
		w.Str(string(m.Kind))
		w.Str(m.Source)
		w.Str(m.Target)
		w.Str(m.FSType)
		w.Str(m.Data)
		w.Num(uint64(m.Flags))
		w.Flag(m.ReadOnly)
		w.Flag(m.Recursive)
		w.Flag(m.SourceInTree)
		w.Str(string(m.IDMap))
		w.Strs(m.Lower)
		w.Strs(m.Devices)
		w.Str(m.Content)
		w.Num(uint64(m.ModTime))
		w.Flag(m.Replace)
		w.Flag(m.BestEffort)
	}
}

// ReadSteps reads what AppendSteps wrote.
func ReadSteps(r *wire.Reader) []Step {
	n := r.Count()
	var steps []Step
	for range n {
		steps = append(steps, Step{
			Kind:         Kind(r.Str()),
			Source:       r.Str(),
			Target:       r.Str(),
			FSType:       r.Str(),
			Data:         r.Str(),
			Flags:        uintptr(r.Num()),
			ReadOnly:     r.Flag(),
			Recursive:    r.Flag(),
			SourceInTree: r.Flag(),
			IDMap:        IDMap(r.Str()),
			Lower:        r.Strs(),
			Devices:      r.Strs(),
			Content:      r.Str(),
			ModTime:      int64(r.Num()),
			Replace:      r.Flag(),
			BestEffort:   r.Flag(),
		})
	}
	return steps
}
