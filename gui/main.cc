// eci-admin-gui: thin main; everything is in the eci_gui library (gui/src).
#include <QApplication>
#include <QStringList>

#include "main_window.h"

int main(int argc, char** argv) {
  QGuiApplication::setHighDpiScaleFactorRoundingPolicy(
      Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
  QApplication app(argc, argv);
  QApplication::setOrganizationName(QStringLiteral("eci"));
  QApplication::setApplicationName(QStringLiteral("eci-admin-gui"));
  eci::gui::MainWindow w;
  // Files named on the command line: admin-settings.json and/or registry.json.
  const QStringList args = QApplication::arguments().mid(1);
  for (const QString& a : args) w.openFile(a);
  w.show();
  return QApplication::exec();
}
