#include "gui_test_util.h"

#include <QApplication>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QTimer>
#include <cmath>

namespace eci::gui::test {

QString readText(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return QString::fromUtf8(f.readAll());
}

void writeText(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  if (f.open(QIODevice::WriteOnly | QIODevice::Truncate)) f.write(bytes);
}

void replaceByRename(const QString& path, const QByteArray& bytes) {
  const QString tmp = path + QStringLiteral(".mdm-tmp");
  writeText(tmp, bytes);
  QFile::remove(path);
  QFile::rename(tmp, path);
}

Run runEciAdmin(const QStringList& args) {
  QProcess p;
  p.start(QStringLiteral(ECI_ADMIN_BIN), args);
  Run r;
  if (!p.waitForFinished(30000)) return r;
  r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  r.out = QString::fromUtf8(p.readAllStandardOutput());
  r.err = QString::fromUtf8(p.readAllStandardError());
  return r;
}

void answerNextMessageBox(const QString& boxName, const QString& buttonName) {
  auto* timer = new QTimer(qApp);
  auto* tries = new int(0);
  QObject::connect(timer, &QTimer::timeout, timer, [=] {
    if (++*tries > 250) {
      timer->deleteLater();
      delete tries;
      return;
    }
    for (QWidget* w : QApplication::topLevelWidgets()) {
      auto* box = qobject_cast<QMessageBox*>(w);
      if (box == nullptr || !box->isVisible() || box->objectName() != boxName) continue;
      if (auto* b = box->findChild<QPushButton*>(buttonName)) {
        timer->stop();
        timer->deleteLater();
        delete tries;
        b->click();
        return;
      }
    }
  });
  timer->start(20);
}

ImageStats analyse(const QImage& in) {
  ImageStats s;
  const QImage img = in.convertToFormat(QImage::Format_RGB32);
  const qint64 total = static_cast<qint64>(img.width()) * img.height();
  if (total == 0) return s;
  QHash<QRgb, qint64> counts;
  double sum = 0, sum2 = 0;
  for (int y = 0; y < img.height(); ++y) {
    const auto* line = reinterpret_cast<const QRgb*>(img.constScanLine(y));
    for (int x = 0; x < img.width(); ++x) {
      const QRgb c = line[x];
      ++counts[c];
      const double l = 0.299 * qRed(c) + 0.587 * qGreen(c) + 0.114 * qBlue(c);
      sum += l;
      sum2 += l * l;
    }
  }
  qint64 most = 0;
  for (auto it = counts.cbegin(); it != counts.cend(); ++it) most = std::max(most, it.value());
  s.nonBackgroundFraction = 1.0 - static_cast<double>(most) / static_cast<double>(total);
  s.distinctColours = static_cast<int>(counts.size());
  const double mean = sum / static_cast<double>(total);
  s.lumaStdDev = std::sqrt(std::max(0.0, sum2 / static_cast<double>(total) - mean * mean));
  return s;
}

}  // namespace eci::gui::test
