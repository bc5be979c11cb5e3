/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "punch-qr-code.h"

#include <glib/gi18n-lib.h>

#ifdef HAVE_QRENCODE
#include <qrencode.h>
#endif

/* The quiet zone the QR specification asks for, in modules. */
#define QUIET 4

struct _PunchQrCode
{
  GtkWidget parent_instance;

  int     width;     /* modules per side, 0 when none */
  guint8 *modules;   /* width × width, 1 = dark */
};

G_DEFINE_FINAL_TYPE (PunchQrCode, punch_qr_code, GTK_TYPE_WIDGET)

gboolean
punch_qr_code_is_supported (void)
{
#ifdef HAVE_QRENCODE
  return TRUE;
#else
  return FALSE;
#endif
}

static void
punch_qr_code_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PunchQrCode *self = PUNCH_QR_CODE (widget);
  float size = MIN (gtk_widget_get_width (widget), gtk_widget_get_height (widget));
  float module;
  static const GdkRGBA white = { 1, 1, 1, 1 }, black = { 0, 0, 0, 1 };

  if (self->width == 0 || size <= 0)
    return;
  /* Whole pixels per module keep the edges sharp for cameras. */
  module = floorf (size / (self->width + 2 * QUIET));
  if (module < 1)
    module = size / (self->width + 2 * QUIET);
  {
    float total = module * (self->width + 2 * QUIET);

    gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (floorf ((gtk_widget_get_width (widget) - total) / 2),
                                                            floorf ((gtk_widget_get_height (widget) - total) / 2)));
    gtk_snapshot_append_color (snapshot, &white, &GRAPHENE_RECT_INIT (0, 0, total, total));
  }
  for (int y = 0; y < self->width; y++)
    for (int x = 0; x < self->width; x++)
      if (self->modules[y * self->width + x])
        gtk_snapshot_append_color (snapshot, &black,
                                   &GRAPHENE_RECT_INIT ((x + QUIET) * module, (y + QUIET) * module, module, module));
}

static void
punch_qr_code_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                       int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  PunchQrCode *self = PUNCH_QR_CODE (widget);
  int modules = self->width + 2 * QUIET;

  *minimum = self->width ? modules * 2 : 0;
  *natural = self->width ? modules * 4 : 0;
}

static void
punch_qr_code_finalize (GObject *object)
{
  g_free (PUNCH_QR_CODE (object)->modules);
  G_OBJECT_CLASS (punch_qr_code_parent_class)->finalize (object);
}

static void
punch_qr_code_class_init (PunchQrCodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = punch_qr_code_finalize;
  widget_class->snapshot = punch_qr_code_snapshot;
  widget_class->measure = punch_qr_code_measure;
  gtk_widget_class_set_css_name (widget_class, "qrcode");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
punch_qr_code_init (PunchQrCode *self)
{
}

GtkWidget *
punch_qr_code_new (const char *text)
{
  PunchQrCode *self = g_object_new (PUNCH_TYPE_QR_CODE, NULL);
  g_autofree char *label = g_strdup_printf (_("QR code of %s"), text);

  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
#ifdef HAVE_QRENCODE
  {
    QRcode *qr = QRcode_encodeString (text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);

    if (qr != NULL)
      {
        self->width = qr->width;
        self->modules = g_new (guint8, (gsize) qr->width * qr->width);
        for (int i = 0; i < qr->width * qr->width; i++)
          self->modules[i] = qr->data[i] & 1;
        QRcode_free (qr);
      }
  }
#endif
  return GTK_WIDGET (self);
}
