package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// The freedesktop.org Desktop Notifications Specification 1.2.
const (
	fdoName   = "org.freedesktop.Notifications"
	fdoPath   = dbus.ObjectPath("/org/freedesktop/Notifications")
	fdoNotify = fdoName + ".Notify"
	fdoClose  = fdoName + ".CloseNotification"
	// urgencyCritical keeps the notice up until it is closed (spec
	// "Urgency Levels"); a touch notice must not fade while the key waits.
	urgencyCritical = byte(2)
)

// freedesktop talks to the notification service on the session bus,
// over a private connection per notice (closed with it).
type freedesktop struct {
	address string
	app     string
	expire  time.Duration
	timeout time.Duration
}

type fdoNotice struct {
	conn   *dbus.Conn
	cancel context.CancelFunc
	id     uint32
}

func (f *freedesktop) show(ctx context.Context, title, body string) (handle, error) {
	if f.address == "" {
		return nil, fmt.Errorf("%w: no D-Bus session bus", ErrUnavailable)
	}
	// The connection lives until the notice is closed; connecting (socket,
	// authentication, Hello, none of which take a context) is bounded by
	// cancelling its context, which closes the socket under them.
	cctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, cancel)
	conn, err := dbus.Connect(f.address, dbus.WithContext(cctx))
	if !stop() || err != nil {
		cancel()
		if conn != nil {
			conn.Close()
		}
		if err == nil || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to the session bus: %w", context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("%w: connect to the session bus: %w", ErrUnavailable, err)
	}
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(urgencyCritical)}
	var id uint32
	err = conn.Object(fdoName, fdoPath).CallWithContext(ctx, fdoNotify, 0,
		f.app, uint32(0), "", title, body, []string{}, hints, int32(f.expire/time.Millisecond)).Store(&id)
	if err != nil {
		conn.Close()
		cancel()
		var de dbus.Error
		if errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, de.Name)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("notify: no answer: %w", context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("notify: %w", err)
	}
	return &fdoNotice{conn: conn, cancel: cancel, id: id}, nil
}

func (n *fdoNotice) close(ctx context.Context) error {
	defer n.cancel()
	defer n.conn.Close()
	if err := n.conn.Object(fdoName, fdoPath).CallWithContext(ctx, fdoClose, 0, n.id).Err; err != nil {
		return fmt.Errorf("close notification %d: %w", n.id, err)
	}
	return nil
}
