// Helpers for the QTest suites: files in a temporary directory, running the built eci-admin,
// answering a modal message box, and measuring whether a screenshot shows anything.
#pragma once

#include <QImage>
#include <QString>
#include <QStringList>
#include <functional>

namespace eci::gui::test {

QString readText(const QString& path);
void writeText(const QString& path, const QByteArray& bytes);
// Replaces `path` the way editors and MDM agents do: write a sibling, rename it over.
void replaceByRename(const QString& path, const QByteArray& bytes);

struct Run {
  int exitCode = -1;
  QString out;
  QString err;
};
Run runEciAdmin(const QStringList& args);

// Clicks the button named `buttonName` of the next modal message box named `boxName` (polls until
// it appears, up to 5 s). Call before the code that opens it.
void answerNextMessageBox(const QString& boxName, const QString& buttonName);

struct ImageStats {
  double nonBackgroundFraction = 0;  // pixels that differ from the most common colour
  int distinctColours = 0;
  double lumaStdDev = 0;
};
ImageStats analyse(const QImage& img);

}  // namespace eci::gui::test
