/* lanspread-demo-game: the tiny game shipped inside the demo archives, so a
 * demo install has something real to launch. */
#include <gtk/gtk.h>

static char *title = NULL;

static void
on_activate (GtkApplication *app)
{
  GtkWidget *window = gtk_application_window_new (app);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 18);
  GtkWidget *label = gtk_label_new (title ? title : "Demo Game");
  GtkWidget *hint = gtk_label_new ("A Lanspread demo game. Close the window to stop playing.");
  GtkWidget *button = gtk_button_new_with_label ("Quit");

  gtk_widget_add_css_class (label, "title-1");
  gtk_widget_add_css_class (hint, "dim-label");
  gtk_widget_set_margin_top (box, 48);
  gtk_widget_set_margin_bottom (box, 48);
  gtk_widget_set_margin_start (box, 48);
  gtk_widget_set_margin_end (box, 48);
  gtk_widget_set_halign (button, GTK_ALIGN_CENTER);
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (gtk_window_destroy), window);

  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), hint);
  gtk_box_append (GTK_BOX (box), button);
  gtk_window_set_child (GTK_WINDOW (window), box);
  gtk_window_set_title (GTK_WINDOW (window), title ? title : "Demo Game");
  gtk_window_present (GTK_WINDOW (window));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GtkApplication) app = NULL;
  GOptionEntry entries[] = {
    { "title", 't', 0, G_OPTION_ARG_STRING, &title, "The game's name", "NAME" },
    { NULL }
  };

  app = gtk_application_new (NULL, G_APPLICATION_NON_UNIQUE);
  g_application_add_main_option_entries (G_APPLICATION (app), entries);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), NULL);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
