package users

import "github.com/nspawn/nspawn/wire"

// AppendWire writes u to a record for the container's first process.
func (u User) AppendWire(w *wire.Writer) {
	w.Str(u.Name)
	w.Num(uint64(u.UID))
	w.Num(uint64(u.GID))
	w.Num(uint64(len(u.Groups)))
	for _, g := range u.Groups {
		w.Num(uint64(g))
	}
	w.Str(u.Home)
	w.Str(u.Shell)
}

// ReadUser reads what AppendWire wrote.
func ReadUser(r *wire.Reader) User {
	u := User{Name: r.Str(), UID: uint32(r.Num()), GID: uint32(r.Num())}
	if n := r.Count(); n > 0 {
		u.Groups = make([]uint32, n)
		for i := range u.Groups {
			u.Groups[i] = uint32(r.Num())
		}
	}
	u.Home = r.Str()
	u.Shell = r.Str()
	return u
}
