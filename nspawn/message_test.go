package nspawn

import (
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a non-zero value, so a field
// the wire format forgets shows up as a difference after a round trip.
func fill(v reflect.Value, seed *int) {
	*seed++
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i), seed)
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+*seed%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*seed))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(uint64(*seed))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), seed)
		}
		v.Set(s)
	default:
		panic("fill: unhandled kind " + v.Kind().String())
	}
}

func TestWireRoundTripCarriesEveryField(t *testing.T) {
	var p childMessage
	seed := 0
	fill(reflect.ValueOf(&p).Elem(), &seed)
	data, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q childMessage
	if err := q.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip lost fields:\nsent %+v\ngot  %+v", p, q)
	}
	// Every truncation is an error, never a panic or a silent success.
	for i := 0; i < len(data); i++ {
		var r childMessage
		if err := r.UnmarshalBinary(data[:i]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(data))
		}
	}
}

func FuzzWireUnmarshal(f *testing.F) {
	var p childMessage
	seed := 0
	fill(reflect.ValueOf(&p).Elem(), &seed)
	data, _ := p.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		var q childMessage
		q.UnmarshalBinary(b) // must not panic or allocate without bound
	})
}
