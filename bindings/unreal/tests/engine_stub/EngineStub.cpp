// The out-of-line parts of the engine stand-in (see CoreMinimal.h).

#include "CoreMinimal.h"

#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <mutex>

#include "HAL/PlatformProcess.h"
#include "HAL/RunnableThread.h"
#include "Interfaces/IPluginManager.h"
#include "Misc/Base64.h"
#include "Misc/CommandLine.h"
#include "Misc/Parse.h"
#include "Modules/ModuleManager.h"

// ---- strings --------------------------------------------------------------------------

std::u16string UeStub::Utf8ToUtf16(const char* Text)
{
	std::u16string Out;
	const unsigned char* In = reinterpret_cast<const unsigned char*>(Text != nullptr ? Text : "");
	while (*In != 0)
	{
		uint32 CodePoint = *In++;
		int32 More = CodePoint >= 0xF0 ? 3 : CodePoint >= 0xE0 ? 2 : CodePoint >= 0xC0 ? 1 : 0;
		CodePoint &= More == 3 ? 0x07u : More == 2 ? 0x0Fu : More == 1 ? 0x1Fu : 0x7Fu;
		for (; More > 0 && (*In & 0xC0) == 0x80; --More)
		{
			CodePoint = (CodePoint << 6) | (*In++ & 0x3Fu);
		}
		if (CodePoint >= 0x10000)
		{
			CodePoint -= 0x10000;
			Out.push_back(static_cast<char16_t>(0xD800 + (CodePoint >> 10)));
			Out.push_back(static_cast<char16_t>(0xDC00 + (CodePoint & 0x3FF)));
		}
		else
		{
			Out.push_back(static_cast<char16_t>(CodePoint));
		}
	}
	return Out;
}

std::string UeStub::Utf16ToUtf8(const TCHAR* Text)
{
	std::string Out;
	for (const TCHAR* In = Text != nullptr ? Text : u""; *In != 0; ++In)
	{
		uint32 CodePoint = *In;
		if (CodePoint >= 0xD800 && CodePoint < 0xDC00 && In[1] >= 0xDC00 && In[1] < 0xE000)
		{
			CodePoint = 0x10000 + ((CodePoint - 0xD800) << 10) + (static_cast<uint32>(In[1]) - 0xDC00);
			++In;
		}
		if (CodePoint < 0x80)
		{
			Out.push_back(static_cast<char>(CodePoint));
		}
		else if (CodePoint < 0x800)
		{
			Out.push_back(static_cast<char>(0xC0 | (CodePoint >> 6)));
			Out.push_back(static_cast<char>(0x80 | (CodePoint & 0x3F)));
		}
		else if (CodePoint < 0x10000)
		{
			Out.push_back(static_cast<char>(0xE0 | (CodePoint >> 12)));
			Out.push_back(static_cast<char>(0x80 | ((CodePoint >> 6) & 0x3F)));
			Out.push_back(static_cast<char>(0x80 | (CodePoint & 0x3F)));
		}
		else
		{
			Out.push_back(static_cast<char>(0xF0 | (CodePoint >> 18)));
			Out.push_back(static_cast<char>(0x80 | ((CodePoint >> 12) & 0x3F)));
			Out.push_back(static_cast<char>(0x80 | ((CodePoint >> 6) & 0x3F)));
			Out.push_back(static_cast<char>(0x80 | (CodePoint & 0x3F)));
		}
	}
	return Out;
}

std::u16string UeStub::FormatV(const TCHAR* Format, va_list Args)
{
	std::string Out;
	const std::string Spec8 = Utf16ToUtf8(Format);
	const char* At = Spec8.c_str();
	while (*At != 0)
	{
		if (*At != '%')
		{
			Out.push_back(*At++);
			continue;
		}
		if (At[1] == '%')
		{
			Out.push_back('%');
			At += 2;
			continue;
		}
		// One conversion: flags, width, precision, length, type.
		std::string Spec(1, *At++);
		while (*At != 0 && std::strchr("-+ #0123456789.", *At) != nullptr)
		{
			Spec.push_back(*At++);
		}
		std::string Length;
		while (*At != 0 && std::strchr("hlzj", *At) != nullptr)
		{
			Length.push_back(*At++);
		}
		const char Type = *At != 0 ? *At++ : 's';
		char Buffer[128];
		switch (Type)
		{
		case 's':
			if (Length == "h")
			{
				const char* Text = va_arg(Args, const char*);
				Out += Text != nullptr ? Text : "(null)";
			}
			else
			{
				const TCHAR* Text = va_arg(Args, const TCHAR*);
				Out += Text != nullptr ? Utf16ToUtf8(Text) : "(null)";
			}
			continue;
		case 'c':
			Out += Utf16ToUtf8(std::u16string(1, static_cast<char16_t>(va_arg(Args, int))).c_str());
			continue;
		case 'f':
		case 'g':
		case 'e':
			std::snprintf(Buffer, sizeof Buffer, (Spec + Type).c_str(), va_arg(Args, double));
			break;
		case 'p':
			std::snprintf(Buffer, sizeof Buffer, "%p", va_arg(Args, void*));
			break;
		default:
		{
			// Every integer length this program passes is int-sized or 64-bit (LP64).
			const bool bSigned = Type == 'd' || Type == 'i';
			if (Length == "ll" || Length == "z" || Length == "j" || Length == "l")
			{
				if (bSigned)
				{
					std::snprintf(Buffer, sizeof Buffer, (Spec + "lld").c_str(), va_arg(Args, long long));
				}
				else
				{
					std::snprintf(Buffer, sizeof Buffer, (Spec + "ll" + Type).c_str(), va_arg(Args, unsigned long long));
				}
			}
			else if (bSigned)
			{
				std::snprintf(Buffer, sizeof Buffer, (Spec + "d").c_str(), va_arg(Args, int));
			}
			else
			{
				std::snprintf(Buffer, sizeof Buffer, (Spec + Type).c_str(), va_arg(Args, unsigned int));
			}
			break;
		}
		}
		Out += Buffer;
	}
	return Utf8ToUtf16(Out.c_str());
}

// ---- logging --------------------------------------------------------------------------

namespace
{
	std::mutex GLogMutex;
	std::vector<std::string> GLogRecords;
	int32 GLogCounts[ELogVerbosity::VeryVerbose + 1] = {};

	const char* VerbosityName(ELogVerbosity::Type Verbosity)
	{
		switch (Verbosity)
		{
		case ELogVerbosity::Fatal: return "Fatal";
		case ELogVerbosity::Error: return "Error";
		case ELogVerbosity::Warning: return "Warning";
		case ELogVerbosity::Display: return "Display";
		case ELogVerbosity::Log: return "Log";
		case ELogVerbosity::Verbose: return "Verbose";
		case ELogVerbosity::VeryVerbose: return "VeryVerbose";
		default: return "NoLogging";
		}
	}
}

void UeStub::Log(const FLogCategoryBase& Category, ELogVerbosity::Type Verbosity, const TCHAR* Format, ...)
{
	if (Verbosity > Category.Verbosity)
	{
		return;
	}
	va_list Args;
	va_start(Args, Format);
	const std::u16string Message = FormatV(Format, Args);
	va_end(Args);
	const std::string Line = Utf16ToUtf8(Category.Name) + ": " + VerbosityName(Verbosity) + ": " + Utf16ToUtf8(Message.c_str());
	std::lock_guard<std::mutex> Lock(GLogMutex);
	std::printf("log  %s\n", Line.c_str());
	std::fflush(stdout);
	GLogRecords.push_back(Line);
	++GLogCounts[Verbosity];
}

int32 UeStub::LogCount(ELogVerbosity::Type Verbosity)
{
	std::lock_guard<std::mutex> Lock(GLogMutex);
	return GLogCounts[Verbosity];
}

bool UeStub::LogContains(const TCHAR* Text)
{
	const std::string Wanted = Utf16ToUtf8(Text);
	std::lock_guard<std::mutex> Lock(GLogMutex);
	for (const std::string& Record : GLogRecords)
	{
		if (Record.find(Wanted) != std::string::npos)
		{
			return true;
		}
	}
	return false;
}

// ---- threads ----------------------------------------------------------------------------

FRunnableThread* FRunnableThread::Create(FRunnable* InRunnable, const TCHAR* ThreadName, uint32 InStackSize,
	EThreadPriority InThreadPri, uint64 InThreadAffinityMask, EThreadCreateFlags InCreateFlags)
{
	if (InRunnable == nullptr || !UeStub::bSupportsMultithreading.load())
	{
		return nullptr;
	}
	FRunnableThread* NewThread = new FRunnableThread(InRunnable, ThreadName);
	const auto Initialized = std::make_shared<std::promise<void>>();
	std::future<void> InitializedFuture = Initialized->get_future();
	UeStub::RunningThreads.fetch_add(1);
	NewThread->Thread = std::thread([InRunnable, Initialized]
	{
		const bool bInitialized = InRunnable->Init();
		Initialized->set_value();
		if (bInitialized)
		{
			InRunnable->Run();
			InRunnable->Exit();
		}
		UeStub::RunningThreads.fetch_sub(1);
	});
	InitializedFuture.wait();
	return NewThread;
}

FRunnableThread::~FRunnableThread()
{
	if (Thread.joinable())
	{
		Kill(true);
	}
}

bool FRunnableThread::Kill(bool bShouldWait)
{
	if (Runnable != nullptr)
	{
		Runnable->Stop();
	}
	if (bShouldWait)
	{
		WaitForCompletion();
	}
	return true;
}

void FRunnableThread::WaitForCompletion()
{
	if (Thread.joinable())
	{
		Thread.join();
	}
}

bool FPlatformProcess::SupportsMultithreading()
{
	return UeStub::bSupportsMultithreading.load();
}

void* FPlatformProcess::GetDllHandle(const TCHAR* Filename)
{
	return nullptr;
}

void FPlatformProcess::FreeDllHandle(void* DllHandle)
{
}

IPluginManager& IPluginManager::Get()
{
	struct FNoPlugins final : IPluginManager
	{
		TSharedPtr<IPlugin> FindPlugin(const FString& Name) override { return TSharedPtr<IPlugin>(); }
	};
	static FNoPlugins Manager;
	return Manager;
}

// ---- modules ------------------------------------------------------------------------------

namespace
{
	struct FModuleEntry
	{
		IModuleInterface* Module = nullptr;
		bool bLoaded = false;
	};

	std::map<std::string, FModuleEntry>& Modules()
	{
		static std::map<std::string, FModuleEntry> Registry;
		return Registry;
	}
}

bool FModuleManager::Register(const TCHAR* ModuleName, IModuleInterface* Module)
{
	Modules()[UeStub::Utf16ToUtf8(ModuleName)].Module = Module;
	return true;
}

bool FModuleManager::LoadModule(const TCHAR* ModuleName)
{
	const auto Found = Modules().find(UeStub::Utf16ToUtf8(ModuleName));
	if (Found == Modules().end())
	{
		return false;
	}
	if (!Found->second.bLoaded)
	{
		Found->second.Module->StartupModule();
		Found->second.bLoaded = true;
	}
	return true;
}

void FModuleManager::UnloadModule(const TCHAR* ModuleName)
{
	const auto Found = Modules().find(UeStub::Utf16ToUtf8(ModuleName));
	if (Found != Modules().end() && Found->second.bLoaded)
	{
		Found->second.Module->ShutdownModule();
		Found->second.bLoaded = false;
	}
}

IModuleInterface* FModuleManager::FindLoaded(const FName& ModuleName)
{
	const auto Found = Modules().find(UeStub::Utf16ToUtf8(*ModuleName.ToString()));
	return Found != Modules().end() && Found->second.bLoaded ? Found->second.Module : nullptr;
}

// ---- command line, parsing, base64 --------------------------------------------------------

namespace
{
	std::u16string GCommandLine;
	const char Base64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

const TCHAR* FCommandLine::Get()
{
	return GCommandLine.c_str();
}

bool FCommandLine::Set(const TCHAR* NewCommandLine)
{
	GCommandLine = NewCommandLine;
	return true;
}

bool FParse::Value(const TCHAR* Stream, const TCHAR* Match, FString& Value, bool bShouldStopOnSeparator)
{
	const std::u16string Text(Stream);
	const size_t At = Text.find(Match);
	if (At == std::u16string::npos)
	{
		return false;
	}
	const size_t Start = At + std::char_traits<char16_t>::length(Match);
	const size_t End = Text.find_first_of(bShouldStopOnSeparator ? u" \t," : u" \t", Start);
	Value = FString(Text.substr(Start, End == std::u16string::npos ? std::u16string::npos : End - Start));
	return true;
}

FString FBase64::Encode(const uint8* Source, uint32 Length)
{
	std::string Out;
	for (uint32 At = 0; At < Length; At += 3)
	{
		const uint32 Remaining = Length - At;
		const uint32 Chunk = (static_cast<uint32>(Source[At]) << 16)
			| (Remaining > 1 ? static_cast<uint32>(Source[At + 1]) << 8 : 0u)
			| (Remaining > 2 ? static_cast<uint32>(Source[At + 2]) : 0u);
		Out.push_back(Base64Alphabet[(Chunk >> 18) & 63]);
		Out.push_back(Base64Alphabet[(Chunk >> 12) & 63]);
		Out.push_back(Remaining > 1 ? Base64Alphabet[(Chunk >> 6) & 63] : '=');
		Out.push_back(Remaining > 2 ? Base64Alphabet[Chunk & 63] : '=');
	}
	return FString(UeStub::Utf8ToUtf16(Out.c_str()));
}

bool FBase64::Decode(const FString& Source, TArray<uint8>& Dest)
{
	const std::string Text = UeStub::Utf16ToUtf8(*Source);
	if (Text.size() % 4 != 0)
	{
		return false;
	}
	Dest.Reset();
	for (size_t At = 0; At < Text.size(); At += 4)
	{
		uint32 Chunk = 0;
		int32 Padding = 0;
		for (size_t Index = 0; Index < 4; ++Index)
		{
			const char Char = Text[At + Index];
			const char* Found = Char != 0 ? std::strchr(Base64Alphabet, Char) : nullptr;
			if (Char == '=' && At + 4 == Text.size() && Index >= 2)
			{
				++Padding;
				Chunk <<= 6;
			}
			else if (Found != nullptr && Padding == 0)
			{
				Chunk = (Chunk << 6) | static_cast<uint32>(Found - Base64Alphabet);
			}
			else
			{
				return false;
			}
		}
		Dest.Add(static_cast<uint8>(Chunk >> 16));
		if (Padding < 2)
		{
			Dest.Add(static_cast<uint8>((Chunk >> 8) & 0xFF));
		}
		if (Padding < 1)
		{
			Dest.Add(static_cast<uint8>(Chunk & 0xFF));
		}
	}
	return true;
}
